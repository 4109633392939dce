"""Camera node: frames -> motion -> person CNN -> events -> clips, thumbnails and MQTT.

One module per pipeline stage, in data-path order: ``source``, ``sensor``,
``motion``, ``person``, ``events``, ``recorder``, ``publisher``; ``node``
wires them. The node never imports TensorFlow: it runs the shipped .tflite
through :mod:`models.inference`.
"""
