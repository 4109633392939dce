"""The MQTT contract's ids: whole-string matches only."""
import pytest

import contract
from camera_node.config import NodeConfig
from contract import ContractError, TopicKind


@pytest.mark.parametrize("name", ["smartcam/cam1\n/events", "smartcam/cam1/thumbnail/e1\n"])
def test_an_id_with_a_trailing_newline_is_not_an_id(name):
    with pytest.raises(ContractError):
        contract.parse_topic("smartcam", name)


def test_topics_and_configs_refuse_ids_with_a_trailing_newline():
    with pytest.raises(ContractError):
        contract.topic("smartcam", "cam1\n", TopicKind.EVENTS)
    with pytest.raises(ContractError):
        contract.topic("smartcam", "cam1", TopicKind.THUMBNAIL, "e1\n")
    with pytest.raises(ValueError):
        NodeConfig(camera_id="cam1\n")


def test_well_formed_ids_still_pass():
    assert contract.parse_topic("smartcam", "smartcam/cam1/thumbnail/1700-cam1-ab.c").event_id == "1700-cam1-ab.c"
