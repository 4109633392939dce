"""Node configuration (YAML validated by pydantic; unknown keys are errors).

Defaults describe an ESP32-CAM (OV2640, 4 MB PSRAM, 520 KB SRAM) watching a
scene at VGA. Every field is documented; ``configs/node.yaml`` is an example.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from contract import CAMERA_ID, BrokerConfig
from yamlconfig import ConfigError, StrictModel, load_yaml_model

__all__ = ["ConfigError", "NodeConfig", "frames_spanning", "load_node_config"]


Share = Annotated[float, Field(ge=0, le=1)]
Polygon = Annotated[list[tuple[Share, Share]], Field(min_length=3, max_length=64)]
"""A polygon in normalised frame coordinates: (x, y) pairs in 0..1, (0, 0) the top-left corner."""


def frames_spanning(seconds: float, fps: float) -> int:
    """The fewest frames at ``fps`` whose intervals span at least ``seconds`` (at least one): how the config's times
    (``motion.absorb_after``, ``detector.recheck_interval``, ...) are counted on a camera's frames."""
    return max(1, math.ceil(seconds * fps - 1e-9))


class SourceConfig(StrictModel):
    """Where frames come from."""

    uri: str = Field("", description="Video file, image folder, camera index ('0') or RTSP/HTTP URL.")
    realtime: bool = Field(False, description="Pace frames at the source fps (live-like) instead of as fast as possible.")
    fps: float | None = Field(None, gt=0, le=240, description="Override the source's frame rate (image folders need one).")
    reconnect_delay: float = Field(1.0, gt=0, le=30, description="A live source that stops delivering frames is reopened after this many seconds, doubling up to 30 s.")


#: The scales libjpeg decodes at (1/N).
DCT_SCALES = (1, 2, 4, 8)
#: The motion frame's width the default scale keeps at least (VGA at 1/4).
MOTION_WIDTH = 160


class SensorConfig(StrictModel):
    """The OV2640 as the ESP32 driver delivers it: JPEG frames."""

    width: int = Field(640, ge=32, le=1600, description="JPEG frame width (VGA=640, SVGA=800, UXGA=1600).")
    height: int = Field(480, ge=32, le=1200, description="JPEG frame height.")
    jpeg_quality: int = Field(80, ge=10, le=100, description="libjpeg quality of the sensor's JPEG (OV2640 quality 10-12 ~ 80).")
    motion_scale: int | None = Field(None, description="Motion runs on the JPEG decoded at 1/N scale (libjpeg DCT scaling: 1, 2, 4, 8; "
                                     "default: the coarsest that leaves the frame at least 160 px wide, 2 at QVGA, 4 at VGA and SVGA, "
                                     "8 at UXGA: a person is about as many motion pixels whatever the camera's resolution; at QVGA and 1/4 a "
                                     "sitter was a few fragments of an 80x60 frame, frame recall 0.20). A rigid walker is proposed from "
                                     "about 6 x N sensor pixels tall (24 px at 1/4, 48 px at 1/8; tests/camera_node/test_motion.py). "
                                     "At 1/8 of VGA a far walker 27-35 px tall is a blob one or two pixels wide that the 3x3 opening "
                                     "removes: the suite's far walkers were recorded on 78% of their frames at 8, 100% at 4.")
    person_scale: int | None = Field(None, description="Person crops come from the JPEG decoded at 1/N scale (1, 2, 4, 8; default: half "
                                     "the motion scale, at least 1), or from a finer decode where that would leave a crop fewer pixels "
                                     "than the model's input (a far person: camera_node.person.crop_scale; on the MCU, a decode of the "
                                     "crop's MCU rows).")

    @field_validator("motion_scale", "person_scale")
    @classmethod
    def _dct_scale(cls, v: int | None) -> int | None:
        if v is not None and v not in DCT_SCALES:
            raise ValueError("libjpeg DCT scaling supports 1, 2, 4 or 8")
        return v

    @property
    def motion_decode_scale(self) -> int:
        """The scale motion runs at: ``motion_scale``, or the coarsest leaving at least :data:`MOTION_WIDTH` px."""
        if self.motion_scale is not None:
            return self.motion_scale
        return max((n for n in DCT_SCALES if self.width / n >= MOTION_WIDTH), default=1)

    @property
    def person_decode_scale(self) -> int:
        """The scale person crops are cut at (at most): ``person_scale``, or half the motion scale."""
        return self.person_scale if self.person_scale is not None else max(1, self.motion_decode_scale // 2)


class MotionConfig(StrictModel):
    """Background model on the tiny frame and region proposals."""

    learn_time: float = Field(
        2.0, gt=0, description="Seconds the background takes to follow a change where nothing moves (its time constant: "
        "each analysed frame learns the share its interval is of this, 0.05 at 10 fps), the same at any frame rate.")
    threshold: float = Field(4.0, gt=0, description="A pixel moves when |frame - background| > threshold x its noise sigma.")
    min_diff: float = Field(
        12.0, ge=0, description="...and by at least this many grey levels of a well-exposed scene: in a dark, flat one "
        "(a camera at night: a learnt background spanning less than detector.stretch_below of the range) that share "
        "of it, as a walker there differs from the background by as much less. A still pixel is told from noise by "
        "this itself.")
    global_change: float = Field(0.45, gt=0, le=1, description="More than this share of pixels changing is a global change (lights, auto-exposure, scene cut): re-learn, no proposals.")
    min_area: float = Field(0.0008, ge=0, lt=1, description="Smallest region, as a share of the frame area.")
    max_area: float = Field(0.6, gt=0, le=1, description="Largest region, as a share of the frame area.")
    min_ratio: float = Field(
        0.15, ge=0, lt=1, description="Narrowest region (width / height) away from the left and right borders: a standing person "
        "seen side-on is about a quarter as wide as tall, and wider as a blob (the MOT15 walkers' regions: 0.22 at the "
        "narrowest); a streak thinner than that is an edge a camera shake lit up (a lamp post, 40x368 px), however tall. "
        "At the left or right border a region is cut across its width: someone walking in shows as a sliver. 0 = off.")
    stack_gap: float = Field(
        0.5, ge=0, le=2, description="Regions stacked one above the other (half the narrower one's width shared) "
        "at most this share of the taller one's height apart are one region: a person whose clothes match the "
        "background moves as head, body and legs apart. 0 = off.")
    max_regions: int = Field(4, ge=1, le=32, description="Cap on proposals per frame (largest first).")
    warmup_frames: int = Field(
        5, ge=1, description="Frames used to learn the background before proposing: samples of its noise, so frames, not "
        "seconds (at 25 fps a video that opens on people shows them 0.2 s in, not 0.5 s).")
    ghost_ratio: float = Field(1.5, gt=1, description="A region whose background has this many times the frame's edges is a ghost: absorbed, not proposed.")
    absorb_after: float = Field(1.5, gt=0, description="Foreground unchanged for this many seconds becomes background (ghosts, parked objects; at least one frame).")
    analysis_fps: float | None = Field(
        None, gt=0, le=240, description="Run motion (and with it the CNN) on at most this many frames per second, as "
        "Frigate's detect fps; every frame is still recorded. None = every frame.")
    masks: list[Polygon] = Field(
        default_factory=list, max_length=16,
        description="Polygons (normalised 0..1) where motion is ignored, as Frigate's motion masks: a timestamp overlay, "
        "sky, trees, a busy road nobody walks on. They also leave the brightness and global-change estimates.")


class DetectorConfig(StrictModel):
    """The person CNN."""

    model: Path | None = Field(None, description="int8 .tflite (default: the shipped model).")
    backend: str = Field("tflm", pattern="^(tflm|litert)$", description="tflm = the MCU's kernels (faithful); litert = fast.")
    threshold: float | None = Field(None, gt=0, lt=1, description="Person score threshold (default: the model card's).")
    confirm_model: Path | None = Field(
        None, description="Cascade: a second int8 .tflite that confirms the crops the model passes at screen_threshold, "
        "e.g. the Apache-2.0 MLPerf Tiny VWW model (../shared/peers/mlperf_tiny_vww_96_int8.tflite; ship it with its "
        "licence). Scores become the cascade's combined score (models.inference.cascade): below 0.5 = stopped by the "
        "screen, so reject_below 0.5 means 'stopped by the screen'. Both models' flash and arenas must fit at once; "
        "each confirmation counts against the inference budget by its MACs. None = one stage.")
    screen_threshold: float | None = Field(
        None, gt=0, lt=1, description="Cascade: the model's threshold for passing a crop on (default: the model card's "
        "screen_threshold, its recall-0.98 point on validation persons).")
    confirm_threshold: float | None = Field(
        None, gt=0, lt=1, description="Cascade: a passed crop is a person when the mean of both models' scores is at "
        "least this (default: the model's own threshold, see `threshold`).")
    stretch_below: float = Field(
        0.5, ge=0, le=1, description="A frame whose grey levels (1st to 99th percentile of the motion frame) span less "
        "than this share of 0-255 (a camera at night: dark and flat) is stretched onto the full range before person "
        "crops are cut from it (camera_node.levels); 0 = never.")
    recheck_interval: float = Field(
        0.3, gt=0, description="Seconds between re-classifications of a tracked person's box even without motion (someone "
        "standing or sitting still; at least a frame apart). Duty cycle: 3.3 invokes a second per still person at the "
        "default 0.3, at any frame rate, within the ESP32's ~10 a second for the shipped model (88 ms an invoke); the "
        "budget caps it either way.")
    min_score: float = Field(
        0.5, gt=0, lt=1, description="A score at least this is evidence for the track it falls on; a person track "
        "stays a person while the median of its recent scores stays at least this (hysteresis: someone sitting "
        "still scores lower than someone walking). Capped at the threshold.")
    confirm_hits: int = Field(
        2, ge=1, description="A track becomes a person (and can raise an alert) once this many of its recent scores "
        "on moving regions (k of the last 7) reach the threshold and their median reaches min_score: one confident "
        "score on a car roof alerts nobody, nor two among doubtful ones. Only person tracks are re-checked.")
    confirm_looks_dark: int = Field(
        3, ge=1, description="Looks (scores on moving regions, confident or not) a track must have had before it can "
        "become a person, on frames whose person crops are stretched (a dark, flat scene: stretch_below), confirm_hits "
        "of them confident: the stretch amplifies the sensor's noise as much as the contrast it restores, and a car's "
        "fragments, scoring 0.86-0.92 at night, hop from track to track (the suite's night view of traffic_overhead, "
        "768x576 at 7 fps: a false alert on two looks), rarely giving one a third. Costs walkers at night a frame or more "
        "(README: the suite's night rows 0.1-0.27 s; far walkers at 25 fps 0.72 s).")
    max_speed: float = Field(
        4.0, gt=0, description="A track crossing more than this many of its own box heights a second since it was "
        "first seen is not a person (walking is about 1, running 2; a car at 10 m/s seen side-on about 7).")
    track_ttl: float = Field(4.0, gt=0, description="Seconds a track survives without a score of at least min_score.")
    still_timeout: float = Field(1800.0, gt=0, description="Seconds a person track survives on re-checks alone while the median of its scores stays at the threshold: someone reading or working at a desk for half an hour is one event, at the frame border too.")
    stationary_timeout: float = Field(120.0, gt=0, description="Seconds a track with weaker evidence (median between min_score and the threshold) survives on re-checks alone (no detection on a motion region).")
    recheck_foreground: float = Field(0.15, ge=0, le=1, description="A re-check counts only if this share of the box differs from the empty scene (the motion stage's slow background) saved when the person arrived at the spot.")
    reject_memory: float = Field(2.5, ge=0, description="Seconds a moving region the CNN confidently rejected (a passing car) is followed without re-classifying it (0 = classify every frame). 2.5 s keeps the CNN on ~12% of a busy road's frames at 10 fps where 1 s needed 15%.")
    reject_memory_max: float = Field(5.0, ge=0, description="A region rejected again when its memory lapsed is held twice as long each time, up to this many seconds (a swaying branch, a car waiting at a light); a sure rejection (sure_below) is held this long from its first look.")
    flicker_memory: float = Field(
        30.0, ge=0, description="A sure rejection (sure_below) that never left the spot it was looked at (a branch a gust "
        "sways, a flag, a reflection) is remembered this long out of sight, others reject_memory: when it shows on that "
        "spot again it is the same thing, and its memory starts over without a look (a gust every half minute costs "
        "one look, not one per gust). 0 = as any other.")
    reject_below: float = Field(0.5, ge=0, le=1, description="Score under which a rejection counts as confident (followed by reject_memory).")
    sure_below: float = Field(0.1, ge=0, le=1, description="A confident rejection scoring under this is sure: the object is not looked at again as it grows (more of it in view, or coming closer), only when its memory lapses, which is reject_memory_max from that look (unsure ones start at reject_memory). Slivers of MOT15 people (15% of their width in view at the frame border) score under 0.1 on 1% of crops; cars on the suite's roads mostly under 0.1, and each car's growth cost a look or two (traffic-overhead 10.5% -> 8.9% of frames, measured with its 16:9 frames squashed to 4:3). 0 = off.")
    regrowth_interval: float = Field(0.2, ge=0, description="A remembered rejection the frame border cut (partly in view) that grew by half is classified again, but not sooner than this many seconds after its last classification (frames that close are near-duplicates). One seen whole that grows is coming closer: looked at again only once its area tripled.")
    max_inferences_per_frame: int = Field(6, ge=1, description="Cap on CNN runs per frame.")


class ZoneConfig(StrictModel):
    """A polygon in normalised frame coordinates (0..1); a person counts if the box's bottom centre is inside."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="Zone name, reported in the event's zones.")
    points: Polygon = Field(description="The zone's corners, (x, y) in 0..1.")


class EventConfig(StrictModel):
    """When an event starts, continues and ends."""

    start_k: int = Field(1, ge=1, description="Start after k frames with a person ... (a person is already a track with "
                         "consistent evidence, detector.confirm_hits; more frames here only add latency)")
    start_n: int = Field(1, ge=1, description="... among the last n frames on which the CNN ran.")
    event_gap: float = Field(3.0, gt=0, description="End after this many seconds without a person.")
    max_length: float = Field(300.0, gt=0, description="Split events longer than this (seconds).")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Only people in these zones count (none = whole frame).")
    min_box_area: float = Field(0.0, ge=0, le=1, description="Smallest person box, share of the frame area.")
    max_box_area: float = Field(1.0, gt=0, le=1, description="Largest person box, share of the frame area.")
    update_every: float = Field(5.0, gt=0, description="Seconds between 'update' messages of an open event.")

    @model_validator(mode="after")
    def _k_of_n(self) -> EventConfig:
        if self.start_k > self.start_n:
            raise ValueError("start_k must be <= start_n")
        return self


class RecorderConfig(StrictModel):
    """Clips on the SD card."""

    pre_roll: float = Field(2.0, ge=0, le=30, description="Seconds recorded before the alert (ring buffer in PSRAM).")
    post_roll: float = Field(2.0, ge=0, le=60, description="Seconds recorded after the last person frame.")
    thumbnail_size: int = Field(160, ge=32, le=640, description="Longest side of the thumbnail JPEG.")
    thumbnail_quality: int = Field(70, ge=10, le=100, description="libjpeg quality of the thumbnail.")
    min_free_bytes: int = Field(1_000_000, ge=0, description="Stop writing clips when the SD card has less free space.")
    card_max_share: float = Field(0.9, gt=0, le=1, description="Keep the SD card's filesystem below this share of its size: before each clip frame is written, the oldest finished clips are deleted (never the open event's); a clip that alone would pass it is ended early.")


class MqttConfig(BrokerConfig):
    """Broker connection (shared with the gateway: :class:`contract.BrokerConfig`) and the store-and-forward queue."""

    url: str | None = Field(None, description="mqtt://[user@]host[:port], or mqtts:// for TLS; none = do not publish. The user defaults to the camera id.")
    queue_dir: Path | None = Field(None, description="Store-and-forward queue folder (default: <out>/queue).")
    queue_max_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Queue cap in bytes of the card (each message file takes whole allocation units: 4-64 KB FAT clusters on an SD card); the oldest messages are dropped (and counted) beyond it.")
    stats_every: float = Field(30.0, gt=0, description="Seconds between stats messages.")
    clip_rate_bytes_per_s: float = Field(256 * 1024, gt=0, description="Pace of a clip the gateway asked for (chunks of 16 KiB, each after the last was acknowledged): 2 Mbit/s leaves an ESP32's ~4 Mbit/s uplink room for alerts, which wait behind one chunk at most.")


class EnergyConfig(StrictModel):
    """Current draw per state (mA at 3.3 V) and battery; defaults from ESP32/ESP32-CAM datasheets and measurements."""

    voltage: float = Field(3.3, gt=0, description="Supply voltage for the power figure.")
    idle_ma: float = Field(40.0, ge=0, description="Modem-sleep with camera streaming (ESP32 datasheet: 20-68 mA modem-sleep at 80-240 MHz).")
    camera_ma: float = Field(40.0, ge=0, description="OV2640 active (datasheet: ~40 mA at 15 fps UXGA).")
    compute_ma: float = Field(60.0, ge=0, description="Extra for CPU at 240 MHz both cores busy (motion, CNN).")
    wifi_tx_ma: float = Field(240.0, ge=0, description="Wi-Fi TX burst (ESP32 datasheet: 802.11n TX 180-240 mA).")
    sd_write_ma: float = Field(60.0, ge=0, description="SD card write (SD spec: up to 100 mA; typical microSD 30-80 mA).")
    wifi_mbps: float = Field(4.0, gt=0, description="Effective uplink in megabits per second, to size Wi-Fi bursts.")
    sd_mbps: float = Field(8.0, gt=0, description="SDMMC 1-bit effective write speed in megabits per second (~1 MB/s).")
    battery_mah: float = Field(10_000.0, gt=0, description="Battery capacity for the days estimate.")
    motion_ms_per_frame: float = Field(10.0, ge=0, description="ESP32 time of the JPEG decode at sensor.motion_scale + motion per frame (estimate: about 8 ms at 1/8; 1/4 adds a 2x2 IDCT per block and four times the pixels to model).")


class BudgetConfig(StrictModel):
    """ESP32-CAM limits the simulator enforces."""

    flash_bytes: int = Field(4 * 1024 * 1024, gt=0, description="Flash for firmware + model.")
    firmware_bytes: int = Field(1_300_000, ge=0, description="Firmware image without the model (typical ESP32-CAM build).")
    psram_bytes: int = Field(4 * 1024 * 1024, gt=0, description="PSRAM for frame buffers and the pre-roll ring.")
    sram_bytes: int = Field(520 * 1024, gt=0, description="Internal SRAM (the tensor arena lives here).")
    sram_reserved_bytes: int = Field(300 * 1024, ge=0, description="SRAM used by Wi-Fi, lwIP, FreeRTOS and the app.")
    frame_buffers: int = Field(2, ge=1, description="Camera driver frame buffers in PSRAM. They are also how far the "
                               "MCU may fall behind the camera: the CNN runs at most as many invokes in a row as "
                               "fit in that many frame intervals (2 at 10 fps for the shipped model), then one as "
                               "each invoke's time is paid back.")
    max_inferences_per_second: float | None = Field(None, gt=0, description="CNN invokes per second the ESP32 sustains (default: from the model's MAC-based latency after motion's share).")


class NodeConfig(StrictModel):
    """Everything a camera node needs."""

    camera_id: str = Field("cam1", description="Unique id: lower-case letters, digits, '-' and '_'.")
    source: SourceConfig = Field(default_factory=SourceConfig)
    sensor: SensorConfig = Field(default_factory=SensorConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    events: EventConfig = Field(default_factory=EventConfig)
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)

    @field_validator("camera_id")
    @classmethod
    def _camera_id(cls, v: str) -> str:
        if not CAMERA_ID.fullmatch(v):
            raise ValueError("camera_id must match " + CAMERA_ID.pattern)
        return v

    def shaped_like(self, width: int, height: int) -> NodeConfig:
        """This config for a camera whose frames are ``width`` x ``height``: the sensor at the configured width,
        in that shape (a 16:9 scene squashed into 4:3 frames shows cars and people a third taller than they are)."""
        sensor = self.sensor.model_copy(update={"height": round(self.sensor.width * height / width)})
        return self.model_copy(update={"sensor": sensor})


def load_node_config(path: Path | None) -> NodeConfig:
    """Read and validate a node config (``None`` = all defaults)."""
    return NodeConfig() if path is None else load_yaml_model(path, NodeConfig)
