"""Config files: the strict base every config model derives from, and YAML into such a model with one error type."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base of every config section: an unknown key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that is missing, not YAML, not a mapping, or fails validation."""


def load_yaml_model(path: Path, model: type[M], **overrides: Any) -> M:
    """Validate ``path`` as ``model``; ``overrides`` that are not ``None`` replace top-level keys."""
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    doc.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
