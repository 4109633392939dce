"""The MQTT contract: ids are whole-string matches; the ledger and the broker settings have one definition each."""
import sqlite3

import pytest

import contract
from camera_node.config import NodeConfig, RecorderConfig
from camera_node.recorder import Recorder
from contract import ContractError, TopicKind
from gateway.config import GatewayConfig
from gateway.store import Store
from yamlconfig import StrictModel


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


def test_the_ledger_the_node_reports_is_the_one_the_store_keeps(tmp_path):
    recorder = Recorder(RecorderConfig(), tmp_path / "clips", 10.0, 64, 48, lookback=0.0)
    recorder.push(0, 0.0, b"\xff\xd8" + b"x" * 100)
    assert type(recorder.ledger) is contract.Ledger and recorder.ledger.frames == 1
    Store(f"sqlite:///{tmp_path}/gw.db").close()
    columns = [row[1] for row in sqlite3.connect(tmp_path / "gw.db").execute("PRAGMA table_info(ledger)")]
    assert columns == ["camera_id", "hour", *contract.LEDGER_FIELDS] and contract.LEDGER_FIELDS == tuple(contract.Ledger.model_fields)
    assert contract.StatsMessage.model_fields["ledger"].annotation is contract.Ledger


def test_node_and_gateway_share_the_contracts_broker_settings(monkeypatch):
    node, gateway = NodeConfig(mqtt={"password_env": "SMARTCAM_TEST_PW"}), GatewayConfig(mqtt={"password_env": "SMARTCAM_TEST_PW"})
    assert isinstance(node.mqtt, contract.BrokerConfig) and isinstance(gateway.mqtt, contract.BrokerConfig)
    monkeypatch.setenv("SMARTCAM_TEST_PW", "pw")
    assert node.mqtt.password() == gateway.mqtt.password() == "pw"
    for section in (node.mqtt, gateway.mqtt, node.detector, gateway.store):  # one strict base: unknown keys are errors
        assert isinstance(section, StrictModel)
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            type(section).model_validate({"no_such_key": 1})


def _interrupt_at_the_first_line_of(code):
    """A trace function that raises KeyboardInterrupt on the first line of ``code``: where Ctrl-C (or the
    demo's SIGTERM, turned into one) lands when it arrives just as that function starts."""
    def on_call(frame, event, arg):
        if event == "call" and frame.f_code is code:
            def on_line(frame, event, arg):
                if event == "line":
                    raise KeyboardInterrupt
                return on_line
            return on_line
        return None
    return on_call


def test_a_client_interrupted_while_it_is_built_is_collected_without_an_error():
    import gc
    import sys

    import paho.mqtt.client as mqtt

    unraisable = []
    previous_trace, previous_hook = sys.gettrace(), sys.unraisablehook
    sys.unraisablehook = unraisable.append
    sys.settrace(_interrupt_at_the_first_line_of(mqtt.Client.__init__.__code__))
    try:
        contract.new_client("interrupted", mqtt.MQTTv311)
    except KeyboardInterrupt:
        interrupted = True
    else:
        interrupted = False
    finally:
        sys.settrace(previous_trace)
    gc.collect()  # the half-built client is finalised here, as at the interpreter's exit
    sys.unraisablehook = previous_hook
    assert interrupted
    assert [u.exc_value for u in unraisable] == []

