"""Two-stage person scoring: the tiny model screens every crop, a confirmation model judges what passes.

The screen runs on every proposal at a high-recall threshold (recorded by
training as ``screen_threshold``); only the crops it passes are cut again
at the confirmation model's input and scored by it. Passed crops score the
mean of both models, shifted above every crop the screen stopped, so one
number ranks (ROC) and decides (threshold) for the pair.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.inference.model_info import cascade_threshold_of, operating_threshold, screen_threshold_of
from models.inference.runner import TfliteClassifier

logger = logging.getLogger(__name__)


def cascade_scores(screen: np.ndarray, screen_threshold: float, confirm: np.ndarray) -> np.ndarray:
    """One score per crop: ``0.5 * screen`` if the screen stopped it, else ``0.5 + 0.5 * mean(screen, confirm)``.

    ``score >= decision_threshold(t)`` is exactly "the screen passed it and the
    mean of both scores is at least ``t``"; passed crops rank above all others.
    """
    screen = np.asarray(screen, np.float32)
    return np.where(screen >= screen_threshold, 0.5 + 0.25 * (screen + np.asarray(confirm, np.float32)), 0.5 * screen)


def decision_threshold(confirm_threshold: float) -> float:
    """The combined-score threshold for a confirmation threshold on the mean of both scores."""
    return 0.5 + 0.5 * confirm_threshold


@dataclass
class Cascade:
    """A screening and a confirmation classifier and their thresholds."""

    screen: TfliteClassifier
    screen_threshold: float
    confirm: TfliteClassifier
    confirm_threshold: float
    #: Crops the confirmation model was run on (the node's cost counter).
    confirmed: int = 0

    @property
    def threshold(self) -> float:
        """Combined scores at or above this are persons."""
        return decision_threshold(self.confirm_threshold)

    def predict(self, screen_crops: np.ndarray, cut: Callable[[int, np.ndarray], np.ndarray]) -> np.ndarray:
        """Combined scores for crops at the screen's input; ``cut(size, index)`` cuts the same
        regions (at ``index``) at the confirmation model's input side ``size``."""
        first = self.screen.predict(screen_crops)
        passed = np.nonzero(first >= self.screen_threshold)[0]
        second = np.zeros(len(first), np.float32)
        if len(passed):
            second[passed] = self.confirm.predict(cut(self.confirm.input_size, passed))
            self.confirmed += len(passed)
        return cascade_scores(first, self.screen_threshold, second)


def open_cascade(
    screen: TfliteClassifier,
    screen_model: Path,
    confirm_model: Path,
    backend: str,
    screen_threshold: float | None = None,
    confirm_threshold: float | None = None,
) -> Cascade:
    """A cascade of ``screen`` (loaded from ``screen_model``) and the model at ``confirm_model``.

    The screen threshold defaults to the one recorded beside the screen model
    (``ValueError`` if there is none), the confirmation threshold to the one
    ``smartcam model calibrate-cascade`` recorded for this confirmation model,
    else the screen model's operating threshold: all picked on its validation data.
    """
    threshold = screen_threshold if screen_threshold is not None else screen_threshold_of(screen_model)
    if threshold is None:
        raise ValueError(f"{screen_model}: no screen_threshold recorded beside it; set detector.screen_threshold")
    if confirm_threshold is None:
        confirm_threshold = cascade_threshold_of(screen_model, confirm_model)
    if confirm_threshold is None:
        confirm_threshold = operating_threshold(screen_model)
    confirm = TfliteClassifier(Path(confirm_model), backend)
    logger.info("cascade: %s screens at %.3f, %s confirms at mean >= %.2f", Path(screen_model).name, threshold,
                Path(confirm_model).name, confirm_threshold)
    return Cascade(screen, threshold, confirm, confirm_threshold)
