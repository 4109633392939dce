"""Tiny int8 person-crop classifier: data, training, quantisation, export, evaluation.

Importing this package (or :mod:`models.inference`) never imports TensorFlow;
only the training, quantisation and export modules do.
"""
from pathlib import Path

#: Directory holding the shipped model, its C array and model card.
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
#: The shipped int8 model the camera node loads by default.
SHIPPED_MODEL = SHIPPED_DIR / "person_detector.tflite"
