"""Hostile training configs (hypothesis): only ConfigError, with the reason, ever comes out."""
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models.config import ConfigError, load_train_config
from tests.fuzzing import FUZZ, JSON_VALUES, mutated

TEMPLATE = {
    "seed": 0, "train": {"yolo": ["capston2/train"], "negative_videos": ["distractors/x.avi"]},
    "validation": {"yolo": ["capston2/valid"]}, "architecture": {"input_size": 64, "blocks": [[1, 16], [2, 32]]},
    "epochs": 2, "batch_size": 8, "learning_rate": 0.003, "target_fpr": 0.02,
}


@settings(FUZZ, max_examples=600)
@given(doc=st.one_of(st.fixed_dictionaries({k: mutated(v) if isinstance(v, dict) else JSON_VALUES for k, v in TEMPLATE.items()}),
                     mutated(TEMPLATE), JSON_VALUES, st.binary(max_size=200)))
def test_train_config_loader(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("cfg") / "train.yaml"
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_train_config(path)
    except ConfigError:
        pass
