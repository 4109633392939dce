"""Full-integer int8 post-training quantisation of the Keras model."""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: The int8 input the node feeds is ``pixel - 128``: scale 1/255, zero point -128.
INPUT_SCALE = 1.0 / 255.0
INPUT_ZERO_POINT = -128


def quantize_int8(model, representative: np.ndarray) -> bytes:
    """Convert ``model`` to an int8-in/int8-out flatbuffer calibrated on uint8 crops ``(N, S, S)``."""
    import tensorflow as tf

    def samples():
        size = representative.shape[1]
        # A full-range ramp pins the input range to exactly [0, 1] -> int8 = pixel - 128.
        yield [np.linspace(0.0, 1.0, size * size, dtype=np.float32).reshape(1, size, size, 1)]
        for crop in representative:
            yield [(crop.astype(np.float32) / 255.0)[None, ..., None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flatbuffer = bytes(converter.convert())
    check_input_quantisation(flatbuffer)
    return flatbuffer


def check_input_quantisation(flatbuffer: bytes) -> None:
    """Raise if the model's input is not the ``pixel - 128`` int8 encoding the node feeds."""
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_content=flatbuffer).get_input_details()[0]
    scale, zero = detail["quantization"]
    if detail["dtype"] != np.int8 or abs(scale - INPUT_SCALE) > 1e-6 or zero != INPUT_ZERO_POINT:
        raise RuntimeError(f"unexpected input quantisation {detail['dtype']} scale={scale} zero={zero}")
