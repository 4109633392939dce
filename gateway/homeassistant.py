"""Home Assistant MQTT discovery: per camera an occupancy binary_sensor (on a retained ON/OFF state the
gateway keeps from the events it stored), a last-thumbnail image and a storage-savings sensor. Configs are retained and re-sent when Home Assistant says
``homeassistant/status: online``.
"""
from __future__ import annotations

import json

import contract

#: The retained occupancy state the gateway keeps per camera (its binary_sensor's payloads).
OCCUPIED, VACANT = "ON", "OFF"


def gateway_topic(prefix: str, camera: str, name: str) -> str:
    """Topics the gateway itself publishes per camera (outside the nodes' topic tree shape)."""
    return f"{prefix}/_gateway/{camera}/{name}"


def discovery_messages(discovery_prefix: str, prefix: str, camera: str) -> list[tuple[str, bytes]]:
    """(topic, retained JSON config) for each entity of ``camera``."""
    device = {"identifiers": [f"smartcam_{camera}"], "name": f"smartcam {camera}", "manufacturer": "smartcam", "model": "ESP32-CAM node"}
    availability = {  # 'stopped' (a clean stop) and 'offline' (the last will) both make the entities unavailable
        "topic": contract.topic(prefix, camera, contract.TopicKind.AVAILABILITY),
        "value_template": f"{{{{ '{contract.Availability.ONLINE.value}' if value == '{contract.Availability.ONLINE.value}' "
                          f"else '{contract.Availability.OFFLINE.value}' }}}}",
        "payload_available": contract.Availability.ONLINE.value,
        "payload_not_available": contract.Availability.OFFLINE.value,
    }
    uid = f"smartcam_{camera}"
    entities = {
        f"binary_sensor/{uid}/occupancy/config": {
            "name": "Person", "unique_id": f"{uid}_person", "device_class": "occupancy", "device": device,
            "state_topic": gateway_topic(prefix, camera, "occupancy"),  # retained ON/OFF: known after a restart
            "payload_on": OCCUPIED, "payload_off": VACANT,
            "availability": [availability],
        },
        f"image/{uid}/thumbnail/config": {
            "name": "Last person", "unique_id": f"{uid}_thumbnail", "device": device,
            "image_topic": gateway_topic(prefix, camera, "last_thumbnail"), "content_type": "image/jpeg",
            "availability": [availability],
        },
        f"sensor/{uid}/savings/config": {
            "name": "Wi-Fi saved", "unique_id": f"{uid}_savings", "device": device, "unit_of_measurement": "%",
            "state_class": "measurement", "state_topic": gateway_topic(prefix, camera, "savings"),
            "value_template": "{{ value_json.wifi.saved_percent }}", "json_attributes_topic": gateway_topic(prefix, camera, "savings"),
            "availability": [availability],
        },
    }
    return [(f"{discovery_prefix}/{path}", json.dumps(cfg).encode()) for path, cfg in entities.items()]
