"""Node config: documented defaults, strict validation, clear errors."""
from pathlib import Path

import pytest
from pydantic import BaseModel

from camera_node.config import ConfigError, NodeConfig, frames_spanning, load_node_config

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "node.yaml"


def test_defaults_describe_an_esp32_cam_at_vga():
    cfg = NodeConfig()
    assert (cfg.sensor.width, cfg.sensor.height) == (640, 480)
    assert cfg.budget.psram_bytes == 4 * 1024 * 1024 and cfg.budget.sram_bytes == 520 * 1024


def test_every_field_is_documented():
    def undocumented(model, prefix=""):
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                yield from undocumented(field.annotation, f"{prefix}{name}.")
            elif not field.description:
                yield prefix + name

    assert list(undocumented(NodeConfig)) == []


def test_the_example_config_loads():
    cfg = load_node_config(EXAMPLE)
    assert cfg.camera_id and cfg.events.zones


@pytest.mark.parametrize(
    "text, message",
    [
        ("camera_id: 'Bad Id!'\n", "camera_id"),
        ("sensor: {motion_scale: 3}\n", "DCT"),
        ("events: {start_k: 5, start_n: 2}\n", "start_k"),
        ("motoin: {}\n", "motoin"),
        ("motion: {masks: [[[0, 0], [1.5, 0], [0, 1]]]}\n", "masks"),  # corners are shares of the frame
        ("events: {zones: [{name: door, points: [[0, 0], [1, 1]]}]}\n", "points"),  # two corners are no polygon
        ("sensor: [unclosed\n", "node.yaml"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_configs_are_rejected_with_the_reason(tmp_path, text, message):
    path = tmp_path / "node.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_node_config(path)


def test_a_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        load_node_config(tmp_path / "absent.yaml")


def test_a_config_shaped_like_a_camera_keeps_its_width_and_takes_the_camera_shape():
    """A 16:9 traffic camera is simulated as a 16:9 node (at the configured width), not squashed into the
    default 4:3 frame, where cars and people come out a third taller than they are."""
    cfg = NodeConfig()
    wide = cfg.shaped_like(640, 360)
    assert (wide.sensor.width, wide.sensor.height) == (640, 360)
    assert (cfg.shaped_like(320, 240).sensor.width, cfg.shaped_like(320, 240).sensor.height) == (640, 480)
    assert wide.detector == cfg.detector and wide.sensor.motion_decode_scale == cfg.sensor.motion_decode_scale  # nothing else changes


@pytest.mark.parametrize(("width", "motion", "person"), [(320, 2, 1), (640, 4, 2), (800, 4, 2), (1600, 8, 4)])
def test_the_decode_scales_follow_the_sensor_width_unless_set(width, motion, person):
    """Motion runs on a frame at least 160 px wide (QVGA at 1/2, VGA and SVGA at 1/4, UXGA at 1/8), crops come from a
    decode twice as fine: the same person is as many pixels to each stage whatever the camera's resolution."""
    sensor = NodeConfig.model_validate({"sensor": {"width": width, "height": width * 3 // 4}}).sensor
    assert (sensor.motion_decode_scale, sensor.person_decode_scale) == (motion, person)
    fixed = NodeConfig.model_validate({"sensor": {"width": width, "motion_scale": 8, "person_scale": 1}}).sensor
    assert (fixed.motion_decode_scale, fixed.person_decode_scale) == (8, 1)


def test_a_time_in_the_config_is_the_fewest_frames_spanning_it():
    # 0.3 s at 10 fps is 3 frames, though 0.3 * 10 is 3.0000000000000004 in floating point; 0.3 s at 7 fps is 3
    # frames (2 span 0.29 s); never under one frame
    assert [frames_spanning(0.3, fps) for fps in (10.0, 7.0, 25.0, 5.0)] == [3, 3, 8, 2]
    assert frames_spanning(0.01, 5.0) == 1 and frames_spanning(1.5, 10.0) == 15
