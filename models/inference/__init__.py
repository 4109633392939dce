"""TensorFlow-free inference runtime for .tflite person classifiers.

This is the only part of :mod:`models` the camera node imports: crop
preprocessing, an interpreter wrapper (TFLM or LiteRT) and measurements
taken from the flatbuffer (MACs, minimum tensor arena).
"""
from models.inference.preprocess import Box, CropFit, crop_region, whole_image_box
from models.inference.runner import Backend, TfliteClassifier

__all__ = ["Backend", "Box", "CropFit", "TfliteClassifier", "crop_region", "whole_image_box"]
