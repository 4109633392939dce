"""The MQTT contract between camera nodes and the gateway: topics, payloads, QoS, broker URLs.

Both ``camera_node`` and ``gateway`` import this module and nothing else of
each other. Topics (``<prefix>`` defaults to ``smartcam``)::

    <prefix>/<camera>/availability           "online" | "offline" | "stopped"  retained, QoS 1 (LWT: offline)
    <prefix>/<camera>/events                 EventMessage JSON                 QoS 1, not retained
    <prefix>/<camera>/thumbnail/<event_id>   JPEG bytes                        QoS 1, not retained
    <prefix>/<camera>/stats                  StatsMessage JSON                 QoS 0
    <prefix>/<camera>/config/set             ConfigSetMessage JSON             QoS 1 (gateway -> node)

The thumbnail topic carries the event id, so an image can never be paired
with the wrong event whatever order the two arrive in.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yamlconfig import StrictModel

DEFAULT_PREFIX = "smartcam"
#: Camera ids: lower-case letters, digits, '-' and '_', 1-32 characters (safe in topics, paths and SQL).
#: Match with ``fullmatch`` (``$`` alone also matches before a trailing newline); pydantic's patterns are whole-string.
CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
#: Event ids: letters, digits, '.', '-' and '_', 1-64 characters, not starting with '.': never '.' or '..' as a
#: whole, and with no '/' a '..' inside (``a..b``) is an ordinary file name. Match with ``fullmatch``.
EVENT_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
MAX_JSON_BYTES = 16 * 1024
#: Largest count or byte total a message may carry: exact as a JSON/float number and within SQLite's and
#: PostgreSQL's BIGINT, with room for a gateway to sum millions of them.
MAX_COUNT = 2**53 - 1
#: Longest duration a message may carry, in seconds (about 300 years).
MAX_SECONDS = 1e10
MAX_THUMBNAIL_BYTES = 256 * 1024

QOS_EVENTS = 1
QOS_THUMBNAIL = 1
QOS_AVAILABILITY = 1
QOS_STATS = 0
QOS_CONFIG = 1
QOS_CLIP = 1
#: A clip travels in chunks of this many bytes (the last one shorter): one chunk is what an ESP32 reads from the
#: card and holds in RAM at a time, and what an alert waits behind at most.
CLIP_CHUNK_BYTES = 16 * 1024
#: Largest clip a gateway accepts (a 60 s event of 640x480 MJPEG at 10 fps is about 25 MB).
MAX_CLIP_BYTES = 256 * 1024 * 1024
MAX_CLIP_CHUNKS = MAX_CLIP_BYTES // CLIP_CHUNK_BYTES


class Availability(str, Enum):
    ONLINE = "online"
    OFFLINE = "offline"  # last will: the node vanished
    STOPPED = "stopped"  # clean shutdown


class TopicKind(str, Enum):
    AVAILABILITY = "availability"
    EVENTS = "events"
    THUMBNAIL = "thumbnail"
    STATS = "stats"
    CONFIG_SET = "config/set"
    CLIP_REQUEST = "clip/request"  # gateway -> node: send (parts of) an event's clip
    CLIP_MANIFEST = "clip/manifest"  # node -> gateway: <prefix>/<camera>/clip/<event id>/manifest
    CLIP_CHUNK = "clip/chunk"  # node -> gateway: <prefix>/<camera>/clip/<event id>/<chunk index>, raw bytes


#: The node's clip answers: a manifest and chunks under ``<prefix>/<camera>/clip/<event id>/...``.
CLIP_DATA = frozenset({TopicKind.CLIP_MANIFEST, TopicKind.CLIP_CHUNK})
#: Kinds whose topic names an event (the rest are ``<prefix>/<camera>/<kind>``).
PER_EVENT = CLIP_DATA | {TopicKind.THUMBNAIL}


@dataclass(frozen=True)
class Topic:
    """A parsed topic: which camera, what kind, the event id for thumbnails and clips, the chunk index for chunks."""

    camera: str
    kind: TopicKind
    event_id: str | None = None
    chunk: int | None = None


class ContractError(ValueError):
    """A topic or payload that does not follow the contract."""


def topic(prefix: str, camera: str, kind: TopicKind, event_id: str | None = None, chunk: int | None = None) -> str:
    """Build a topic; validates the ids it embeds."""
    if not CAMERA_ID.fullmatch(camera):
        raise ContractError(f"invalid camera id {camera!r}")
    if kind in PER_EVENT:
        if event_id is None or not EVENT_ID.fullmatch(event_id):
            raise ContractError(f"invalid event id {event_id!r}")
        if kind is TopicKind.THUMBNAIL:
            return f"{prefix}/{camera}/thumbnail/{event_id}"
        if kind is TopicKind.CLIP_MANIFEST:
            return f"{prefix}/{camera}/clip/{event_id}/manifest"
        if chunk is None or not 0 <= chunk < MAX_CLIP_CHUNKS:
            raise ContractError(f"invalid chunk index {chunk!r}")
        return f"{prefix}/{camera}/clip/{event_id}/{chunk}"
    return f"{prefix}/{camera}/{kind.value}"


def subscription(prefix: str, kind: TopicKind) -> str:
    """Wildcard subscription for ``kind`` on every camera (manifests and chunks share one: ``clip/+/+``)."""
    if kind is TopicKind.THUMBNAIL:
        return f"{prefix}/+/thumbnail/+"
    if kind in CLIP_DATA:
        return f"{prefix}/+/clip/+/+"
    return f"{prefix}/+/{kind.value}"


def parse_topic(prefix: str, name: str) -> Topic:
    """Parse a topic under ``prefix``; raise :class:`ContractError` for anything else."""
    head = prefix + "/"
    if not name.startswith(head):
        raise ContractError(f"topic {name!r} is not under {prefix!r}")
    parts = name[len(head):].split("/")
    camera = parts[0]
    if not CAMERA_ID.fullmatch(camera):
        raise ContractError(f"invalid camera id {camera!r} in topic")
    rest = "/".join(parts[1:])
    if len(parts) == 3 and parts[1] == "thumbnail":
        if not EVENT_ID.fullmatch(parts[2]):
            raise ContractError(f"invalid event id {parts[2]!r} in topic")
        return Topic(camera, TopicKind.THUMBNAIL, parts[2])
    if len(parts) == 4 and parts[1] == "clip":
        if not EVENT_ID.fullmatch(parts[2]):
            raise ContractError(f"invalid event id {parts[2]!r} in topic")
        if parts[3] == "manifest":
            return Topic(camera, TopicKind.CLIP_MANIFEST, parts[2])
        if not (parts[3].isdigit() and len(parts[3]) <= 6 and int(parts[3]) < MAX_CLIP_CHUNKS):
            raise ContractError(f"invalid chunk index {parts[3]!r} in topic")
        return Topic(camera, TopicKind.CLIP_CHUNK, parts[2], int(parts[3]))
    for kind in TopicKind:
        if kind not in PER_EVENT and rest == kind.value:
            return Topic(camera, kind)
    raise ContractError(f"unknown topic kind {rest!r}")


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker listens and how to reach it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:pass]@]host[:port]`` (1883) or ``mqtts://...`` (TLS, 8883)."""
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise ContractError(f"unsupported broker URL scheme {parsed.scheme!r} (use mqtt:// or mqtts://host:port)")
    if not parsed.hostname:
        raise ContractError(f"broker URL {url!r} has no host")
    try:
        port = parsed.port
    except ValueError as exc:
        raise ContractError(f"broker URL {url!r}: {exc}") from exc
    tls = parsed.scheme in ("mqtts", "ssl")
    return BrokerAddress(parsed.hostname, port or (8883 if tls else 1883), parsed.username, parsed.password, tls)


class TlsFiles(StrictModel):
    """TLS to the broker: the site CA, and a client certificate when the broker asks for one."""

    ca_file: Path | None = Field(None, description="CA certificate that signed the broker's (none = the system CAs).")
    cert_file: Path | None = Field(None, description="Client certificate (brokers with require_certificate).")
    key_file: Path | None = Field(None, description="Client private key, with cert_file.")

    @model_validator(mode="after")
    def _pair(self) -> TlsFiles:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    def tls_set_kwargs(self) -> dict:
        """Keyword arguments for paho's ``Client.tls_set``."""
        return {"ca_certs": _str(self.ca_file), "certfile": _str(self.cert_file), "keyfile": _str(self.key_file)}


class BrokerConfig(StrictModel):
    """The broker settings node and gateway share (each config's ``mqtt`` section extends it)."""

    url: str | None = Field(None, description="mqtt://[user@]host[:port] of the broker, mqtts:// for TLS.")
    prefix: str = Field(DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Topic prefix shared by nodes and gateway.")
    password_env: str | None = Field(None, description="Environment variable holding the password (never put it in the file).")
    password_file: Path | None = Field(None, description="File holding the password (`smartcam broker credentials` writes one).")
    tls: TlsFiles | None = Field(None, description="CA and optional client certificate for TLS (`smartcam broker certs`).")
    keepalive: int = Field(30, ge=5, le=3600, description="MQTT keepalive in seconds (the broker publishes the last will after 1.5x).")

    def password(self) -> str | None:
        """The password from ``password_env`` or ``password_file`` (``None``: the URL's, or none)."""
        return read_secret(self.password_env, self.password_file)


def new_client(client_id: str, protocol: int, **options) -> mqtt.Client:
    """A paho client (callback API 2) that an interrupt cannot leave half-built with a failing finaliser.

    Ctrl-C, or SIGTERM turned into it, can land in the first lines of paho's constructor, before the
    socket fields its ``__del__`` closes exist; the half-built client then prints a traceback when it is
    collected. They are set to "no socket" before the constructor runs (it sets them the same way).
    """
    client = mqtt.Client.__new__(mqtt.Client)
    client._sock = client._sockpairR = client._sockpairW = None
    client.__init__(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **options)
    return client


def secure_client(client, address: BrokerAddress, default_user: str, password: str | None, tls: TlsFiles | None) -> None:
    """Log a paho client in and encrypt it the way the contract says, for node and gateway alike.

    The user is the URL's, else ``default_user`` (a camera's id: what the per-camera ACL
    expects); the password is ``password``, else the URL's. TLS when the URL is ``mqtts://``
    or ``tls`` is given.
    """
    password = password or address.password
    if address.username or password:
        client.username_pw_set(address.username or default_user, password)
    if address.tls or tls is not None:
        client.tls_set(**(tls or TlsFiles()).tls_set_kwargs())


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def read_secret(env: str | None = None, file: Path | None = None, what: str = "the broker password") -> str | None:
    """A secret from an environment variable or a file (first line); secrets never live in config files.
    One that is named but missing is an error (``what`` says which secret), never a silent ``None``."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ContractError(f"environment variable {env} ({what}) is not set")
        return value
    if file is not None:
        try:
            return Path(file).read_text().strip()
        except OSError as exc:
            raise ContractError(f"cannot read the file holding {what}: {exc}") from exc
    return None


class _Message(BaseModel):
    # No NaN or infinity anywhere: a number the store or the report cannot hold is refused here, at the edge.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, payload: bytes):
        """Validate a payload; raise :class:`ContractError` with the reason."""
        if len(payload) > MAX_JSON_BYTES:
            raise ContractError(f"payload of {len(payload)} B exceeds {MAX_JSON_BYTES} B")
        try:
            return cls.model_validate_json(payload)
        except ValueError as exc:
            raise ContractError(f"invalid {cls.__name__}: {exc}") from exc


class BoxModel(_Message):
    """Person box in the analysed frame's pixels."""

    x: float = Field(ge=-1e5, le=1e5)
    y: float = Field(ge=-1e5, le=1e5)
    w: float = Field(gt=0, le=1e5)
    h: float = Field(gt=0, le=1e5)


class EventMessage(_Message):
    """An event's lifecycle: ``new`` when the alert is raised, ``update``s, one ``end``."""

    type: Literal["new", "update", "end"]
    event_id: str = Field(pattern=EVENT_ID.pattern, description="Stable id, unique per camera.")
    camera: str = Field(pattern=CAMERA_ID.pattern, description="Must equal the topic's camera id.")
    seq: int = Field(ge=0, le=2**31, description="Per-event message counter (orders updates).")
    label: Literal["person"] = "person"
    start_time: float = Field(ge=0, le=1e11, description="Unix seconds of the first frame with the person.")
    end_time: float | None = Field(None, ge=0, le=1e11, description="Unix seconds of the last frame with the person (end only).")
    score: float = Field(ge=0, le=1, description="Best person score so far.")
    box: BoxModel | None = Field(None, description="Box of the best detection.")
    frame_width: int | None = Field(None, gt=0, le=100_000)
    frame_height: int | None = Field(None, gt=0, le=100_000)
    zones: list[str] = Field(default_factory=list, max_length=32)
    clip_bytes: int | None = Field(None, ge=0, le=2**40, description="Size of the clip written to SD (end only).")


class Ledger(_Message):
    """The storage ledger, the one definition node and gateway share: what a continuous MJPEG recording of the
    same frames would have written vs what was written (clips) and sent (thumbnails, messages), in bytes.

    The node reports it cumulatively in every stats message; the gateway stores its growth per camera and
    hour, one column per field (:data:`LEDGER_FIELDS`), and sums those rows back into one for its reports.
    """

    frames: int = Field(0, ge=0, le=MAX_COUNT)
    seconds: float = Field(0.0, ge=0, le=MAX_SECONDS)
    continuous_bytes: int = Field(0, ge=0, le=MAX_COUNT, description="Continuous MJPEG at the same size/quality/fps (measured).")
    clip_bytes: int = Field(0, ge=0, le=MAX_COUNT)
    thumbnail_bytes: int = Field(0, ge=0, le=MAX_COUNT)
    message_bytes: int = Field(0, ge=0, le=MAX_COUNT)
    clip_seconds: float = Field(0.0, ge=0, le=MAX_SECONDS, description="Duration of the frames kept in clips (pre- and post-roll included).")
    motion_seconds: float = Field(0.0, ge=0, le=MAX_SECONDS, description="Duration of the frames the motion stage saw motion in: what a recorder on motion alone would keep.")

    @property
    def sent_bytes(self) -> int:
        """What went over Wi-Fi to the gateway (thumbnails and messages); clips stay on the node's card."""
        return self.thumbnail_bytes + self.message_bytes

    @property
    def event_bytes(self) -> int:
        """Everything the event-triggered recorder spent: clips, thumbnails and messages."""
        return self.clip_bytes + self.sent_bytes

    @property
    def saved_fraction(self) -> float:
        """Share of the continuous recording's bytes not spent (0 before the first frame)."""
        return 1.0 - self.event_bytes / self.continuous_bytes if self.continuous_bytes else 0.0

    @classmethod
    def total(cls, rows: list[dict]) -> Ledger:
        """The sum of ledger rows (each holding every :data:`LEDGER_FIELDS` key), e.g. a store's hourly rows."""
        return cls.model_construct(**{k: sum(r[k] for r in rows) for k in LEDGER_FIELDS})

    def summary(self) -> dict:
        """The fields with the derived totals, for reports and ledger.json."""
        return {**self.model_dump(), "event_bytes": self.event_bytes, "sent_bytes": self.sent_bytes,
                "saved_fraction": round(self.saved_fraction, 6)}


#: The ledger's fields, in order: the node's counters, the stats payload and the store's columns.
LEDGER_FIELDS: tuple[str, ...] = tuple(Ledger.model_fields)


class EnergyEstimate(_Message):
    """The node's energy model (datasheet currents x time per state) applied to what it did, and to streaming instead."""

    average_ma: float = Field(ge=0, le=1e5, description="Average current of the event-triggered node (mA).")
    battery_days: float = Field(ge=0, le=1e6, description="Days on the configured battery at that current.")
    streaming_battery_days: float = Field(ge=0, le=1e6, description="Days on the same battery for a node streaming every frame as MJPEG over Wi-Fi.")


class ClipRequest(_Message):
    """Gateway -> node: send this event's clip. ``chunks`` None: the manifest and every chunk; a list: only those
    (resuming after a broker drop or a node reboot); empty: the manifest only."""

    event_id: str = Field(pattern=EVENT_ID.pattern)
    chunks: list[Annotated[int, Field(ge=0, lt=MAX_CLIP_CHUNKS)]] | None = Field(None, max_length=4096)
    fetched: bool = Field(False, description="Not a request: the gateway has stored the clip, checked: the node may delete it before older ones when its card needs room.")


class ClipManifest(_Message):
    """Node -> gateway, before the chunks: what the clip is, so the gateway can check every chunk and the whole."""

    event_id: str = Field(pattern=EVENT_ID.pattern)
    available: bool = Field(description="False: the node has no such clip (never recorded, or deleted to keep its card under the cap).")
    bytes: int = Field(0, ge=0, le=MAX_CLIP_BYTES)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    chunk_bytes: int = Field(CLIP_CHUNK_BYTES, ge=1024, le=CLIP_CHUNK_BYTES)
    reason: str | None = Field(None, max_length=200)

    @property
    def chunks(self) -> int:
        return -(-self.bytes // self.chunk_bytes)


class CardUse(_Message):
    """The node's SD card: what its filesystem uses, the cap clips are kept under, and what retention removed."""

    used_bytes: int = Field(ge=0, le=MAX_COUNT)
    total_bytes: int = Field(ge=0, le=MAX_COUNT)
    limit_bytes: int = Field(ge=0, le=MAX_COUNT, description="recorder.card_max_share of the card: the oldest clips go to stay under it.")
    clips: int = Field(ge=0, le=MAX_COUNT, description="Finished clips on the card.")
    clips_deleted: int = Field(ge=0, le=MAX_COUNT, description="Clips deleted to stay under the limit since boot.")


class StatsMessage(_Message):
    """Periodic node health and counters."""

    camera: str = Field(pattern=CAMERA_ID.pattern)
    time: float = Field(ge=0, le=1e11)
    frames: int = Field(ge=0, le=MAX_COUNT)
    motion_frames: int = Field(ge=0, le=MAX_COUNT)
    cnn_frames: int = Field(ge=0, le=MAX_COUNT, description="Frames on which the CNN ran at least once.")
    inferences: int = Field(ge=0, le=MAX_COUNT)
    events: int = Field(ge=0, le=MAX_COUNT)
    queue_bytes: int = Field(ge=0, le=MAX_COUNT, description="Bytes of the card the store-and-forward queue takes (allocation units included).")
    dropped_messages: int = Field(ge=0, le=MAX_COUNT)
    ledger: Ledger
    energy: EnergyEstimate | None = None
    card: CardUse | None = None
    budget: dict[str, Annotated[float, Field(ge=-1e12, le=1e12)]] = Field(default_factory=dict, max_length=64)


class ConfigSetMessage(_Message):
    """Runtime-tunable node settings the gateway may push."""

    threshold: float | None = Field(None, gt=0, lt=1, description="Person threshold on the model's score (with a cascade: "
                                    "the confirmation threshold on the mean of both scores), from the next frame on.")
    event_gap: float | None = Field(None, gt=0, le=3600, description="Seconds without a person that end an event.")
    enabled: bool | None = Field(None, description="False: the CNN stops, so no event starts (motion and the ledger go on).")
