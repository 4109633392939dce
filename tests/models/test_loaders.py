"""Loaders turn every supported annotation format into frames with person boxes."""
import json

import cv2
import numpy as np
import pytest

from models.data.coco import iter_coco
from models.data.labelled_folder import iter_labelled_folder
from models.data.mot import iter_mot, parse_mot_gt
from models.data.yolo import iter_yolo, parse_yolo_labels
from models.inference.preprocess import Box
from tests.conftest import DATA, need, write_avi


def test_yolo_labels_become_pixel_boxes_of_the_person_class_only():
    text = "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.1 0.1\n\n"
    assert parse_yolo_labels(text, 200, 100) == [Box(80.0, 30.0, 40.0, 40.0)]


def test_yolo_rejects_short_rows():
    with pytest.raises(ValueError, match="line 1"):
        parse_yolo_labels("0 0.5 0.5", 10, 10)


def test_yolo_split_yields_every_image_with_boxes(yolo_split):
    frames = list(iter_yolo(yolo_split))
    assert len(frames) == 6
    assert all(f.image.ndim == 2 and len(f.boxes) == 2 for f in frames)


def test_yolo_image_without_label_file_is_person_free(yolo_split):
    (yolo_split / "labels" / "img0.txt").unlink()
    assert next(iter_yolo(yolo_split)).boxes == []


def test_coco_json_boxes_skip_crowds_and_other_categories(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((50, 80), np.uint8))
    cv2.imwrite(str(tmp_path / "b.jpg"), np.zeros((50, 80), np.uint8))
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 20]},
            {"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "iscrowd": 1},
            {"image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5]},
        ],
    }
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    frames = list(iter_coco(tmp_path / "ann.json", tmp_path))
    assert [f.boxes for f in frames] == [[Box(1, 2, 10, 20)], []]


def test_coco_without_the_category_is_an_error(tmp_path):
    (tmp_path / "ann.json").write_text(json.dumps({"images": [], "categories": [], "annotations": []}))
    with pytest.raises(ValueError, match="no category"):
        list(iter_coco(tmp_path / "ann.json", tmp_path))


def test_mot15_world_coordinates_are_not_mistaken_for_a_class():
    # MOT15: frame,id,left,top,width,height,conf,x,y,z (x = 4.4 is a position, not class 4)
    assert parse_mot_gt("1,2,181,95,75.8,227.0,1,4.4091,4.4283,0\n") == {1: [Box(181, 95, 75.8, 227.0)]}


def test_mot_gt_skips_ignored_rows_and_non_person_classes():
    text = "1,1,10,20,30,60,1,1,1.0\n1,2,0,0,5,5,0,1,1.0\n2,3,1,1,5,5,1,4,1.0\n2,4,1,1,5,10,1,-1,-1,-1\n"
    gt = parse_mot_gt(text)
    assert gt == {1: [Box(10, 20, 30, 60)], 2: [Box(1, 1, 5, 10)]}


def test_mot_sequence_from_a_real_video_file(tmp_path):
    seq = tmp_path / "SEQ"
    (seq / "gt").mkdir(parents=True)
    write_avi(seq / "SEQ.avi", [np.full((48, 64), 10 * i, np.uint8) for i in range(5)])
    (seq / "gt" / "gt.txt").write_text("1,1,1,1,10,20,1,-1,-1,-1\n3,1,2,2,10,20,1,-1,-1,-1\n")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ\n")
    frames = list(iter_mot(seq, step=2))
    assert [f.key for f in frames] == ["SEQ#0", "SEQ#2", "SEQ#4"]
    assert [len(f.boxes) for f in frames] == [1, 1, 0]
    assert frames[0].image.shape == (48, 64)


def test_labelled_folder_reads_the_csv(tmp_path):
    for name in ("p.png", "n.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((20, 30), np.uint8))
    (tmp_path / "labels.csv").write_text("image,label\np.png,1\nn.png,0\n")
    assert [(c.key.endswith("p.png"), c.label) for c in iter_labelled_folder(tmp_path)] == [(True, 1), (False, 0)]


def test_labelled_folder_rejects_unknown_labels(tmp_path):
    cv2.imwrite(str(tmp_path / "p.png"), np.zeros((20, 30), np.uint8))
    (tmp_path / "labels.csv").write_text("image,label\np.png,maybe\n")
    with pytest.raises(ValueError, match="labels.csv:2"):
        list(iter_labelled_folder(tmp_path))


def test_corrupt_images_raise_a_clear_error(yolo_split):
    (yolo_split / "images" / "img0.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match="cannot decode"):
        list(iter_yolo(yolo_split))


def test_real_capston2_and_mot15_load():
    capston = next(iter_yolo(need(DATA / "capston2" / "valid")))
    assert capston.image.shape == (320, 320) and capston.boxes
    mot = list(iter_mot(need(DATA / "mot15" / "TUD-Campus")))
    assert len(mot) == 71 and all(f.boxes for f in mot)
