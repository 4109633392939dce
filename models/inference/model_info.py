"""The operating threshold that travels with a model file."""
from __future__ import annotations

import json
from pathlib import Path

#: Threshold used for a model that ships no card (e.g. a peer model).
FALLBACK_THRESHOLD = 0.5
CARD_FILE = "model_card.json"
TRAINING_FILE = "training.json"


def operating_threshold(model_path: Path) -> float:
    """The person-score threshold stored beside ``model_path`` (model card, else training report)."""
    folder = Path(model_path).parent
    for name in (CARD_FILE, TRAINING_FILE):
        doc_path = folder / name
        if doc_path.exists():
            doc = json.loads(doc_path.read_text())
            if doc.get("model_file", Path(model_path).name) == Path(model_path).name and "threshold" in doc:
                return float(doc["threshold"])
    return FALLBACK_THRESHOLD
