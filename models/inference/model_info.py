"""The operating threshold that travels with a model file."""
from __future__ import annotations

import json
from pathlib import Path

#: Threshold used for a model that ships no card (e.g. a peer model).
FALLBACK_THRESHOLD = 0.5
CARD_FILE = "model_card.json"
TRAINING_FILE = "training.json"


def _recorded_value(model_path: Path, key: str):
    """``key`` as recorded beside ``model_path``: in its model card, else its training report; ``None`` if absent."""
    folder = Path(model_path).parent
    for name in (CARD_FILE, TRAINING_FILE):
        doc_path = folder / name
        if doc_path.exists():
            doc = json.loads(doc_path.read_text())
            if doc.get("model_file", Path(model_path).name) == Path(model_path).name:
                value = doc.get(key, (doc.get("training") or {}).get(key))
                if value is not None:
                    return value
    return None


def _recorded(model_path: Path, key: str) -> float | None:
    value = _recorded_value(model_path, key)
    return None if value is None else float(value)


def operating_threshold(model_path: Path) -> float:
    """The person-score threshold stored beside ``model_path`` (model card, else training report)."""
    value = _recorded(model_path, "threshold")
    return FALLBACK_THRESHOLD if value is None else value


def screen_threshold_of(model_path: Path) -> float | None:
    """The high-recall threshold a cascade screens with, if the model records one."""
    return _recorded(model_path, "screen_threshold")


def cascade_threshold_of(model_path: Path, confirm_model: Path) -> float | None:
    """The confirmation threshold calibrated for ``confirm_model`` beside the screening model, if any."""
    entry = _recorded_value(model_path, "cascade") or {}
    return float(entry["confirm_threshold"]) if entry.get("confirm_model") == Path(confirm_model).name else None
