"""Hostile input at the gateway's edge (hypothesis): every MQTT handler gets thousands of generated
messages — wrong types, huge numbers, invalid UTF-8, truncated JPEGs, decompression bombs, path
traversal in ids. Zero crashes; every message is either applied or rejected and counted; the store
stays consistent (rows point at files inside the media folder, ids follow the contract)."""
import io
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import contract
from gateway.config import GatewayConfig, LimitsConfig, load_gateway_config
from gateway.ingest import Ingestor
from gateway.media import MediaStore
from gateway.store import Store
from tests.fuzzing import FUZZ, IDS, JSON_VALUES, mutated, payloads
from tests.gateway.test_store_ingest import ev, jpeg, stats

EVENT_TEMPLATE = contract.EventMessage.model_validate_json(ev("end", 2, end_time=1010.0, clip_bytes=10)).model_dump(mode="json")
STATS_TEMPLATE = contract.StatsMessage.model_validate_json(stats()).model_dump(mode="json")


def bomb(w: int, h: int) -> bytes:
    """A real JPEG whose frame header claims ``w`` x ``h`` pixels (a decompression bomb)."""
    data = bytearray(jpeg(16, 16))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    return buf.getvalue()


THUMBNAILS = st.one_of(
    st.binary(max_size=400),
    st.tuples(st.just(jpeg(64, 48)), st.integers(2, 600)).map(lambda t: t[0][: t[1]]),  # truncated
    st.tuples(st.integers(1, 65535), st.integers(1, 65535)).map(lambda wh: bomb(*wh)),
    st.builds(lambda w, h, c: jpeg(w, h, (c, c, c)), st.integers(1, 96), st.integers(1, 96), st.integers(0, 255)),
    st.just(png()),
    st.integers(260_000, 300_000).map(lambda n: b"\xff\xd8" + bytes(n)),
)
VALID_EVENTS = st.builds(
    lambda kind, seq, event_id, score: ev(kind, seq, event_id=event_id, score=score),
    st.sampled_from(["new", "update", "end"]), st.integers(0, 2**31), st.from_regex(contract.EVENT_ID, fullmatch=True),
    st.floats(0, 1),
)
VALID_STATS = st.builds(lambda t, cont: stats(t=t, cont=cont), st.floats(0, 1e10), st.integers(0, 2**50))


class Harness:
    """One store, media folder and ingestor for a whole fuzz run; checks its invariants."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = Store(f"sqlite:///{root}/gw.db")
        self.media = MediaStore(root / "media")
        self.ingest = Ingestor(self.store, self.media, "smartcam", LimitsConfig())
        self.calls = 0

    def handle(self, topic: str, payload: bytes) -> bool:
        before = self.counted()
        accepted = self.ingest.handle(topic, payload)
        self.calls += 1
        assert self.counted() == before + 1, "every message is accepted or rejected, and counted once"
        return accepted

    def counted(self) -> int:
        return sum(self.ingest.counters.accepted.values()) + sum(self.ingest.counters.rejected.values())

    def check_store(self) -> None:
        media_root = self.media.root.resolve()
        for row in self.store.events(limit=10_000):
            assert contract.CAMERA_ID.fullmatch(row["camera_id"]) and contract.EVENT_ID.fullmatch(row["event_id"])
            if row.get("thumbnail_sha"):
                path = self.media.path(self.store.thumbnail(row["thumbnail_sha"])["path"])
                assert media_root in path.parents and path.is_file()
        for path in self.media.root.rglob("*"):
            assert media_root in path.resolve().parents


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    h.check_store()
    print(f"\nfuzzed ingest: {h.calls} messages, accepted {dict(h.ingest.counters.accepted)}, rejected {dict(h.ingest.counters.rejected)}")


@settings(FUZZ, max_examples=3000)
@given(camera=st.one_of(st.just("cam1"), IDS), payload=st.one_of(payloads(EVENT_TEMPLATE), VALID_EVENTS))
def test_event_messages(harness, camera, payload):
    harness.handle(f"smartcam/{camera}/events", payload)


@settings(FUZZ, max_examples=2000)
@given(camera=st.one_of(st.just("cam1"), IDS), event_id=st.one_of(st.just("1000-cam1"), IDS), payload=THUMBNAILS)
def test_thumbnails(harness, camera, event_id, payload):
    accepted = harness.handle(f"smartcam/{camera}/thumbnail/{event_id}", payload)
    if accepted:
        with Image.open(io.BytesIO(payload)) as img:
            assert img.format == "JPEG" and img.size[0] * img.size[1] <= LimitsConfig().max_thumbnail_pixels


@settings(FUZZ, max_examples=1500)
@given(camera=st.one_of(st.just("cam1"), IDS), payload=st.one_of(payloads(STATS_TEMPLATE), VALID_STATS))
def test_stats_messages(harness, camera, payload):
    harness.handle(f"smartcam/{camera}/stats", payload)


@settings(FUZZ, max_examples=1000)
@given(topic=st.one_of(st.text(max_size=60), st.lists(IDS, max_size=5).map(lambda p: "smartcam/" + "/".join(p))),
       payload=st.one_of(st.binary(max_size=64), st.sampled_from([b"online", b"offline", b"stopped", b"ONLINE"])))
def test_any_topic_any_payload(harness, topic, payload):
    harness.handle(topic, payload)


def test_the_fuzz_run_rejected_hostile_input_and_kept_valid_input(harness):
    """Runs after the fuzzers above: both outcomes really happened and the store holds what was accepted."""
    c = harness.ingest.counters
    assert harness.calls >= 7500
    assert c.rejected["ContractError"] > 1000 and c.rejected["BadImage"] > 300
    assert c.accepted["events"] > 50 and c.accepted["thumbnail"] > 50 and c.accepted["stats"] > 20
    assert harness.store.count("events") > 0


GATEWAY_TEMPLATE = GatewayConfig().model_dump(mode="json")


@settings(FUZZ, max_examples=600)
@given(doc=st.one_of(
    st.builds(lambda sections: sections, st.fixed_dictionaries({k: mutated(v) for k, v in GATEWAY_TEMPLATE.items()})),
    mutated(GATEWAY_TEMPLATE), JSON_VALUES,
))
def test_gateway_config_loader(tmp_path_factory, doc):
    import yaml

    path = tmp_path_factory.mktemp("cfg") / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_gateway_config(path)
    except contract.ContractError:
        pytest.fail("config errors must be ConfigError")
    except Exception as exc:  # noqa: BLE001 - the fuzz harness asserts on whatever was raised
        assert type(exc).__name__ == "ConfigError", repr(exc)
