"""Gateway: ingest the nodes' MQTT messages, store events, enforce retention, report the storage saved.

``config`` (validated YAML), ``store`` (SQLite or PostgreSQL, one schema),
``ingest`` (validate and upsert one message), ``media`` (content-addressed
thumbnails), ``retention`` (days and a size cap), ``daemon`` (the MQTT
client), ``report``, ``api``, ``homeassistant``.
"""
