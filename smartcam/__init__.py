"""The ``smartcam`` command line: sits on top of models, camera_node and gateway."""
