"""Run an int8/uint8 .tflite image classifier on uint8 grayscale crops.

Two backends run the same flatbuffer:

* ``tflm`` — the TensorFlow Lite for Microcontrollers interpreter (the
  ``tflite-micro`` package), i.e. the reference int8 kernels the MCU runs,
  with an explicitly sized tensor arena. Faithful, slower.
* ``litert`` — the LiteRT (TFLite) interpreter with optimised kernels and
  batching. Fast; used for bulk evaluation.

Inputs are quantised the way the published models expect: an int8 input is
``pixel - 128``, a uint8 input the raw pixel. The person score is read from
either a single output (probability or logit) or a two-class output
``[no person, person]``.
"""
from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Arena handed to TFLM when the caller does not size it (bytes).
DEFAULT_TFLM_ARENA = 2 * 1024 * 1024


class Backend(str, Enum):
    """Interpreter used to run a model."""

    TFLM = "tflm"
    LITERT = "litert"


def _make_tflm(model: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=arena_size)


class TfliteClassifier:
    """A person classifier loaded from a .tflite flatbuffer.

    ``predict`` takes uint8 crops of shape ``(N, S, S)`` already at the
    model's input size and returns person scores in ``[0, 1]``.
    """

    def __init__(
        self,
        model: bytes | str | Path,
        backend: Backend | str = Backend.TFLM,
        arena_size: int | None = None,
    ) -> None:
        self.model_bytes = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        self.backend = Backend(backend)
        if self.backend is Backend.TFLM:
            self._tflm = _make_tflm(self.model_bytes, arena_size or DEFAULT_TFLM_ARENA)
            inp, out = self._tflm.get_input_details(0), self._tflm.get_output_details(0)
        else:
            from ai_edge_litert.interpreter import Interpreter

            self._litert = Interpreter(model_content=self.model_bytes, num_threads=1)
            self._litert.allocate_tensors()
            inp, out = self._litert.get_input_details()[0], self._litert.get_output_details()[0]
            self._batch = 1
        self._in_index = inp.get("index", 0)
        self._out_index = out.get("index", 0)
        shape = [int(v) for v in inp["shape"]]
        if len(shape) != 4 or shape[1] != shape[2]:
            raise ValueError(f"expected a square NHWC image input, got shape {shape}")
        self.input_size: int = shape[1]
        self.channels: int = shape[3]
        self.input_dtype = np.dtype(inp["dtype"])
        if self.input_dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            raise ValueError(f"only int8/uint8 inputs are supported, got {self.input_dtype}")
        self.output_dtype = np.dtype(out["dtype"])
        q = out.get("quantization_parameters", {})
        scales, zps = q.get("scales", []), q.get("zero_points", [])
        self._out_scale = float(scales[0]) if len(scales) else 1.0
        self._out_zero = int(zps[0]) if len(zps) else 0
        self.output_classes = int(np.prod(out["shape"][1:]))
        if self.output_classes not in (1, 2):
            raise ValueError(f"expected 1 or 2 outputs (person score), got {self.output_classes}")

    def quantize_input(self, crops: np.ndarray) -> np.ndarray:
        """uint8 crops ``(N, S, S)`` -> the model's input tensor ``(N, S, S, C)``."""
        if crops.dtype != np.uint8 or crops.ndim != 3 or crops.shape[1:] != (self.input_size,) * 2:
            raise ValueError(
                f"expected uint8 crops (N, {self.input_size}, {self.input_size}), "
                f"got {crops.dtype} {crops.shape}"
            )
        x = crops[..., None]
        if self.channels != 1:
            x = np.repeat(x, self.channels, axis=-1)
        if self.input_dtype == np.int8:
            return (x.astype(np.int16) - 128).astype(np.int8)
        return x

    def score_from_output(self, raw: np.ndarray) -> np.ndarray:
        """Quantised outputs ``(N, classes)`` -> person scores in ``[0, 1]``."""
        deq = (raw.astype(np.float32).reshape(len(raw), -1) - self._out_zero) * self._out_scale
        if self.output_classes == 1:
            v = deq[:, 0]
            if v.min(initial=0.0) < -1e-3 or v.max(initial=0.0) > 1 + 1e-3:
                v = 1.0 / (1.0 + np.exp(-v))
            return np.clip(v, 0.0, 1.0)
        sums = deq.sum(axis=1)
        if np.all(deq >= -1e-3) and np.all(np.abs(sums - 1.0) < 0.05):
            return np.clip(deq[:, 1], 0.0, 1.0)
        z = deq - deq.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e[:, 1] / e.sum(axis=1)

    def predict(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Person scores in ``[0, 1]`` for uint8 crops ``(N, S, S)``."""
        x = self.quantize_input(crops)
        if self.backend is Backend.TFLM:
            raw = np.empty((len(x), self.output_classes), dtype=self.output_dtype)
            for i in range(len(x)):
                self._tflm.set_input(x[i : i + 1], 0)
                self._tflm.invoke()
                raw[i] = self._tflm.get_output(0).reshape(-1)
        else:
            raw = np.concatenate([self._run_litert(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        return self.score_from_output(raw)

    def _run_litert(self, x: np.ndarray) -> np.ndarray:
        it = self._litert
        if self._batch != len(x):
            it.resize_tensor_input(self._in_index, list(x.shape))
            it.allocate_tensors()
            self._batch = len(x)
        it.set_tensor(self._in_index, x)
        it.invoke()
        return it.get_tensor(self._out_index).reshape(len(x), -1).copy()
