"""Gateway configuration (YAML validated by pydantic; unknown keys are errors)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contract import MAX_JSON_BYTES, MAX_THUMBNAIL_BYTES, BrokerConfig
from yamlconfig import ConfigError, StrictModel, load_yaml_model

__all__ = ["ConfigError", "GatewayConfig", "load_gateway_config"]


class MqttConfig(BrokerConfig):
    """Broker connection (shared with the nodes: :class:`contract.BrokerConfig`) and the gateway's session."""

    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user@]host[:port] of the broker, mqtts:// for TLS. The user defaults to client_id when a password is set.")
    client_id: str = Field("smartcam-gateway", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Stable id: the broker keeps this session's queue while the gateway is down.")
    share_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Subscribe as $share/<group>/... so several gateways split the load (MQTT 5).")
    session_expiry: int = Field(7 * 24 * 3600, ge=0, description="Seconds the broker keeps the session (and queued QoS 1 messages) after a disconnect (MQTT 5).")
    protocol: str = Field("auto", pattern="^(auto|5|3.1.1)$", description="auto = MQTT 5, falling back to 3.1.1 for brokers without it (e.g. amqtt): only on a protocol refusal or no CONNACK at all, never on a refused login.")
    allow_unshared_fallback: bool = Field(False, description="With share_group: fall back to 3.1.1 anyway, as a plain subscription (every gateway of the group then ingests everything; upserts keep it correct, not cheap). Off: refuse and log.")


class StoreConfig(StrictModel):
    """Where events and thumbnails live."""

    dsn: str = Field("sqlite:///runs/gateway/smartcam.db", description="sqlite:///path (embedded default) or postgresql://user@host/db.")
    media_dir: Path = Field(Path("runs/gateway/media"), description="Thumbnails, content-addressed (sha256).")


class RetentionConfig(StrictModel):
    """How long and how much is kept."""

    days: float = Field(30.0, gt=0, description="Default retention in days.")
    camera_days: dict[str, float] = Field(default_factory=dict, description="Per-camera retention overrides in days.")
    max_gb: float = Field(10.0, gt=0, description="Cap on the thumbnails stored (the only media the gateway keeps; event rows and the ledger are not counted): the oldest thumbnails go first, with the events that show them; events without one are left to `days`.")
    sweep_every: float = Field(60.0, gt=0, description="Seconds between retention sweeps.")
    end_offline_events_after: float = Field(
        900.0, gt=0, description="An open event of a camera offline (its last will published) and silent this many "
        "seconds is ended at its last news, at the next sweep: a node that dies mid-event and never comes back leaves "
        "no event open (and no one 'in view' in Home Assistant) for ever. A node that does come back ends it from its "
        "journal, and that end still lands.")


class LimitsConfig(StrictModel):
    """Edge validation limits."""

    max_json_bytes: int = Field(MAX_JSON_BYTES, gt=0, le=MAX_JSON_BYTES, description="Larger JSON payloads are rejected.")
    max_thumbnail_bytes: int = Field(MAX_THUMBNAIL_BYTES, gt=0, le=MAX_THUMBNAIL_BYTES, description="Larger thumbnails are rejected.")
    max_thumbnail_pixels: int = Field(1920 * 1080, gt=0, description="Decompression-bomb guard: larger images are rejected.")
    max_clock_skew: float = Field(300.0, gt=0, description="Seconds a node's clock may differ from the gateway's before its stats are dated by the gateway.")


class ReportConfig(StrictModel):
    """Storage-savings report."""

    h264_kbps: float = Field(1024.0, gt=0, description="Bitrate of the server NVR's H.264 recording to compare with (per camera; H.265 at about 60% of it: set it lower).")
    activity_share: float = Field(0.05, gt=0, le=1, description="Stated share of the day with people in view, for the per-day projections (shown next to them, beside the share measured).")


class ClipsConfig(StrictModel):
    """Event clips, fetched from the nodes' SD cards on demand (or automatically), stored as MP4 under the size cap."""

    auto_fetch_cameras: list[str] = Field(default_factory=list, description="Fetch the clip of every event of these cameras once it ends.")
    auto_fetch_zones: list[str] = Field(default_factory=list, description="Fetch the clip of every event that touched one of these zones once it ends.")
    parts_dir: Path = Field(Path("runs/gateway/clip-parts"), description="Clips being received (outside media_dir: nothing half-written is ever served).")
    resume_after: float = Field(10.0, gt=0, description="Seconds without news after which a transfer is resumed: the missing chunks are asked for again.")
    max_attempts: int = Field(6, ge=1, description="Requests per clip before it is given up as unavailable.")
    max_transfers: int = Field(8, ge=1, le=256, description="Transfers followed at once (the oldest finished or failed ones are forgotten first).")


class ApiConfig(StrictModel):
    """HTTP API and page. Every request needs the token (``Authorization: Bearer <token>``, or the page's login
    cookie) unless ``allow_unauthenticated`` is set; a token that is named but missing stops the gateway."""

    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8080, ge=0, le=65535, description="Port (0 = pick a free one).")
    token_env: str | None = Field("SMARTCAM_API_TOKEN", description="Environment variable holding the API token (at least 16 characters).")
    token_file: Path | None = Field(None, description="File holding the API token instead (first line); used when token_env is null.")
    allow_unauthenticated: bool = Field(False, description="Serve reads without a token, to anyone who reaches host:port (a trusted LAN only; logged as a warning at every start). Deleting still needs a token.")
    max_page: int = Field(200, ge=1, le=1000, description="Largest page of events.")


class HomeAssistantConfig(StrictModel):
    """Home Assistant MQTT discovery."""

    enabled: bool = Field(True, description="Publish discovery configs per camera.")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")


class GatewayConfig(StrictModel):
    """Everything the gateway needs."""

    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)


def load_gateway_config(path: Path | None) -> GatewayConfig:
    """Read and validate a gateway config (``None`` = all defaults)."""
    return GatewayConfig() if path is None else load_yaml_model(path, GatewayConfig)
