"""The person-crop CNN: a MobileNet-style stack of depthwise-separable blocks.

Grayscale ``S x S`` input in ``[0, 1]``, one sigmoid output (person score).
BatchNorm folds into the convolutions at conversion, ReLU6 keeps
activations in a range int8 quantises well.
"""
from __future__ import annotations

from pydantic import Field

from yamlconfig import StrictModel


class ArchConfig(StrictModel):
    """Shape of the network."""

    input_size: int = Field(64, ge=16, le=160, description="Square input side in pixels.")
    stem_channels: int = Field(8, ge=1, description="Channels of the stride-2 3x3 stem convolution.")
    blocks: list[tuple[int, int]] = Field(
        default=[(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128), (1, 128)],
        description="Depthwise-separable blocks as (stride, output channels).",
    )
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout before the classifier.")


def build_model(cfg: ArchConfig):
    """The Keras model for ``cfg`` (imports TensorFlow)."""
    import keras
    from keras import layers

    def bn_relu(x):
        return layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(x))

    inp = keras.Input((cfg.input_size, cfg.input_size, 1), name="crop")
    x = bn_relu(layers.Conv2D(cfg.stem_channels, 3, strides=2, padding="same", use_bias=False)(inp))
    for stride, channels in cfg.blocks:
        x = bn_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x))
        x = bn_relu(layers.Conv2D(channels, 1, use_bias=False)(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(cfg.dropout)(x)
    out = layers.Dense(1, activation="sigmoid", name="person")(x)
    return keras.Model(inp, out, name="smartcam_person")
