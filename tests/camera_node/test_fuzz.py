"""Hostile input at the node's edges (hypothesis): the config/set MQTT handler and the node config loader."""
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import contract
from camera_node.config import ConfigError, NodeConfig, load_node_config
from camera_node.publisher import Publisher
from camera_node.spool import Spool
from tests.fuzzing import FUZZ, JSON_VALUES, mutated, payloads

CONFIG_SET_TEMPLATE = {"threshold": 0.9, "event_gap": 3.0, "enabled": True}
NODE_TEMPLATE = NodeConfig().model_dump(mode="json")


@pytest.fixture(scope="module")
def publisher(tmp_path_factory):
    """A publisher that is never started: only its message handler is exercised."""
    got: list[contract.ConfigSetMessage] = []
    pub = Publisher("mqtt://127.0.0.1:1", "smartcam", "cam1", Spool(tmp_path_factory.mktemp("q"), 1 << 20), on_config=got.append)
    pub.calls, pub.got = 0, got
    yield pub
    print(f"\nfuzzed config/set: {pub.calls} messages, {len(got)} applied, {pub.rejected} rejected")
    assert len(got) + pub.rejected == pub.calls
    assert len(got) > 20 and pub.rejected > 200


@settings(FUZZ, max_examples=1200)
@given(payload=payloads(CONFIG_SET_TEMPLATE))
def test_config_set_messages(publisher, payload):
    before = len(publisher.got) + publisher.rejected
    publisher._on_message(None, None, SimpleNamespace(topic="smartcam/cam1/config/set", payload=payload))
    publisher.calls += 1
    assert len(publisher.got) + publisher.rejected == before + 1
    if len(publisher.got) > before - publisher.rejected and publisher.got:
        update = publisher.got[-1]
        assert update.threshold is None or 0 < update.threshold < 1


@settings(FUZZ, max_examples=600)
@given(doc=st.one_of(st.fixed_dictionaries({k: mutated(v) if isinstance(v, dict) else JSON_VALUES for k, v in NODE_TEMPLATE.items()}),
                     mutated(NODE_TEMPLATE), JSON_VALUES))
def test_node_config_loader(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("cfg") / "node.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_node_config(path)
    except ConfigError:
        pass  # the one error a broken config may raise, with the reason in it
