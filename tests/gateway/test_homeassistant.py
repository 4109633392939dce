"""Home Assistant discovery: every entity follows the node's availability, 'stopped' included."""
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
