"""Home Assistant discovery: every payload passes Home Assistant's own schema for its platform, and every entity
follows the node's availability, 'stopped' included."""
import json

import jinja2
import pytest

import contract
from gateway.homeassistant import discovery_messages

ENTITIES = {cfg["unique_id"]: cfg for _, payload in discovery_messages("homeassistant", "smartcam", "cam1")
            for cfg in [json.loads(payload)]}


def availability_state(item: dict, payload: str) -> str:
    """What Home Assistant makes of an availability payload: render the template, compare with the payloads."""
    value = jinja2.Environment().from_string(item.get("value_template", "{{ value }}")).render(value=payload)
    return {item["payload_available"]: "available", item["payload_not_available"]: "unavailable"}.get(value, "unchanged")


@pytest.mark.parametrize("uid", sorted(ENTITIES))
def test_every_entity_goes_unavailable_when_the_node_stops_or_drops(uid):
    (item,) = ENTITIES[uid]["availability"]
    assert item["topic"] == "smartcam/cam1/availability"
    assert availability_state(item, contract.Availability.ONLINE.value) == "available"
    assert availability_state(item, contract.Availability.OFFLINE.value) == "unavailable"  # last will
    assert availability_state(item, contract.Availability.STOPPED.value) == "unavailable"  # clean stop


# Home Assistant's MQTT discovery schemas for the three platforms (homeassistant/components/mqtt: schemas.py,
# config.py, binary_sensor.py, sensor.py, image.py). Discovery drops unknown keys silently (vol.REMOVE_EXTRA),
# so a misspelt key would be lost without a word: every key we send must be one of these.
HA_COMMON = {"availability", "availability_mode", "availability_template", "availability_topic", "payload_available",
             "payload_not_available", "device", "entity_picture", "origin", "enabled_by_default", "entity_category", "icon",
             "json_attributes_topic", "json_attributes_template", "object_id", "unique_id", "name", "qos", "encoding"}
HA_PLATFORMS = {
    "binary_sensor": ({"state_topic"}, {"value_template", "device_class", "expire_after", "force_update", "off_delay",
                                        "payload_off", "payload_on"}),
    "sensor": ({"state_topic"}, {"value_template", "device_class", "expire_after", "force_update", "last_reset_value_template",
                                 "options", "suggested_display_precision", "state_class", "unit_of_measurement"}),
    "image": (set(), {"content_type", "image_topic", "url_topic", "image_encoding", "url_template"}),
}
HA_DEVICE_KEYS = {"identifiers", "connections", "manufacturer", "model", "model_id", "name", "hw_version", "serial_number",
                  "sw_version", "via_device", "suggested_area", "configuration_url"}
HA_BINARY_SENSOR_CLASSES = {"occupancy", "motion", "presence", "moving"}  # the ones a person detector could claim
HA_STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
MESSAGES = discovery_messages("homeassistant", "smartcam", "cam1")


@pytest.mark.parametrize("topic,payload", MESSAGES, ids=[t.split("/")[1] for t, _ in MESSAGES])
def test_every_discovery_payload_passes_home_assistants_schema_for_its_platform(topic, payload):
    discovery, platform, node_id, object_id, last = topic.split("/")
    assert (discovery, last) == ("homeassistant", "config") and node_id == "smartcam_cam1" and object_id
    cfg = json.loads(payload)
    required, optional = HA_PLATFORMS[platform]
    assert required <= cfg.keys(), f"missing {required - cfg.keys()}"
    assert cfg.keys() <= HA_COMMON | required | optional, f"Home Assistant would drop {cfg.keys() - HA_COMMON - required - optional}"
    assert cfg["device"]["identifiers"] and cfg["device"].keys() <= HA_DEVICE_KEYS
    assert isinstance(cfg["name"], str) and cfg["unique_id"].startswith("smartcam_cam1_")
    for item in cfg["availability"]:
        assert item.keys() <= {"topic", "payload_available", "payload_not_available", "value_template"} and "+" not in item["topic"]
    for key in ("state_topic", "image_topic", "json_attributes_topic"):
        assert key not in cfg or (cfg[key] and "#" not in cfg[key] and "+" not in cfg[key])
    if platform == "image":
        assert ("image_topic" in cfg) != ("url_topic" in cfg)  # exactly one (vol.Exclusive, then "expected one of")
        assert not ("content_type" in cfg and "url_topic" in cfg)
    if platform == "binary_sensor":
        assert cfg["device_class"] in HA_BINARY_SENSOR_CLASSES and {cfg["payload_on"], cfg["payload_off"]} == {"ON", "OFF"}
    if platform == "sensor":
        assert cfg["state_class"] in HA_STATE_CLASSES


def test_the_savings_sensors_template_reads_the_payload_the_gateway_publishes():
    from gateway.savings import savings_summary

    (sensor,) = [json.loads(p) for t, p in MESSAGES if t.split("/")[1] == "sensor"]
    row = contract.Ledger(frames=10, seconds=1.0, continuous_bytes=10_000, clip_bytes=1000, thumbnail_bytes=10, message_bytes=5).model_dump()
    payload = json.dumps(savings_summary([row], 1024.0))
    rendered = jinja2.Environment().from_string(sensor["value_template"]).render(value_json=json.loads(payload))
    assert float(rendered) == pytest.approx(100 * (1 - 15 / 10_000), abs=0.01)  # Wi-Fi: thumbnails and messages sent
