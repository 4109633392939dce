"""Photometric and resolution augmentation of uint8 crops: what a camera does to a person.

Geometric jitter (scale, aspect, shift, partial crops) happens when crops are
cut (:mod:`models.data.crops`); this module perturbs pixels: exposure
(brightness, contrast, gamma: clouds, dusk, IR night mode), blur (focus,
motion), sensor noise, JPEG artifacts, low resolution (a far person
upsampled), anisotropic stretch (other sensors' aspect ratios, a frame
stretched to fit) and mirror flips.
"""
from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from yamlconfig import StrictModel


class AugmentConfig(StrictModel):
    """Probabilities and ranges of each perturbation (each applied independently)."""

    flip_prob: float = Field(0.5, ge=0, le=1, description="Mirror left-right.")
    exposure_prob: float = Field(0.8, ge=0, le=1, description="Brightness/contrast/gamma change.")
    contrast: tuple[float, float] = Field((0.5, 1.5), description="Contrast factor range.")
    brightness: tuple[float, float] = Field((-50.0, 50.0), description="Brightness offset range (grey levels).")
    gamma: tuple[float, float] = Field((0.5, 2.0), description="Gamma range (log-uniform).")
    blur_prob: float = Field(0.25, ge=0, le=1, description="Gaussian blur, sigma up to blur_sigma.")
    blur_sigma: float = Field(1.5, gt=0)
    noise_prob: float = Field(0.4, ge=0, le=1, description="Additive Gaussian sensor noise.")
    noise_sigma: float = Field(12.0, ge=0, description="Max noise standard deviation (grey levels).")
    jpeg_prob: float = Field(0.3, ge=0, le=1, description="Re-encode as JPEG.")
    jpeg_quality: tuple[int, int] = Field((15, 85), description="JPEG quality range.")
    lowres_prob: float = Field(0.3, ge=0, le=1, description="Down- then up-sample (far subject).")
    lowres_min: int = Field(16, ge=4, description="Smallest side the crop is shrunk to.")
    stretch_prob: float = Field(0.3, ge=0, le=1, description="Stretch horizontally by a factor in stretch_range.")
    stretch_range: tuple[float, float] = Field((0.7, 1.4), description="Horizontal stretch factor range (log-uniform).")


def augment_batch(crops: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A perturbed copy of uint8 crops ``(N, S, S)``; the input is not modified."""
    out = np.empty_like(crops)
    for i, crop in enumerate(crops):
        out[i] = augment_one(crop, rng, cfg)
    return out


def _stretch(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale the width by ``factor``, then centre-crop or edge-pad back to square."""
    size = img.shape[0]
    width = max(1, round(size * factor))
    wide = cv2.resize(img, (width, size), interpolation=cv2.INTER_LINEAR)
    if width >= size:
        left = (width - size) // 2
        return wide[:, left : left + size]
    pad = size - width
    return cv2.copyMakeBorder(wide, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)


def augment_one(crop: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """One perturbed uint8 crop."""
    size = crop.shape[0]
    img = crop
    if rng.random() < cfg.flip_prob:
        img = img[:, ::-1]
    if rng.random() < cfg.stretch_prob:
        img = _stretch(img, float(np.exp(rng.uniform(*np.log(cfg.stretch_range)))))
    if rng.random() < cfg.lowres_prob and size > cfg.lowres_min:
        small = int(rng.integers(cfg.lowres_min, size))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size), interpolation=cv2.INTER_LINEAR)
    x = img.astype(np.float32)
    if rng.random() < cfg.exposure_prob:
        gamma = float(np.exp(rng.uniform(np.log(cfg.gamma[0]), np.log(cfg.gamma[1]))))
        x = 255.0 * (x / 255.0) ** gamma
        mean = x.mean()
        x = (x - mean) * rng.uniform(*cfg.contrast) + mean + rng.uniform(*cfg.brightness)
    if rng.random() < cfg.blur_prob:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.3, cfg.blur_sigma)))
    if rng.random() < cfg.noise_prob:
        x = x + rng.normal(0.0, rng.uniform(0, cfg.noise_sigma), x.shape).astype(np.float32)
    img = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < cfg.jpeg_prob:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return np.ascontiguousarray(img)
