"""Stage 4 — person: classify motion regions (and tracked people) with the int8 CNN.

Each region is cut from a larger decode of the sensor JPEG as a square crop
with context (:func:`models.inference.crop_region`, exactly as in training)
and classified in the real TFLM interpreter (or LiteRT). People found are
tracked; a track is re-checked every ``recheck_interval`` seconds even when
nothing moves, so someone standing still keeps the event alive — but only
while the region still differs from the empty scene saved when the person arrived at the spot, from the motion
stage's slow background (not when last seen moving there, nor from its learnt background: that takes in someone
standing still within ``motion.absorb_after``, and a box that shifted as they stopped, counted as an arrival,
saved the person as the empty spot: at 15 fps every re-check then found it empty). A track left on a person-like background when
the person walked off therefore dies instead of keeping the event open
forever, and the motion stage's background keeps learning everywhere. Nor is a spot re-checked once it
no longer looks as the person did when last seen moving and shows what the motion stage has settled on
as background (a person-like poster someone walked past: the background saved on arrival may hold part of
them, so only this tells the spot is empty); someone sitting still, learnt into that background, still
looks as they did and is re-checked. Their look is saved from each motion region that counts for them, but not
from a doubted part of them (a region under half their box, scored under the threshold): what is left of a sitter
walking off is proposed part by part for a few frames and can score over ``min_score`` (0.63-0.74 on
TUD-Stadtmitte's bench seen at 768x576), and saved as their look it made re-checks of the empty spot count as them.

Moving things the CNN confidently rejected (a passing car) are remembered
too: a proposal lying mostly where one of them was last seen or where its
motion puts it (and at most twice its size, the larger of its last two boxes: a blob that showed a fragment of a car
for a frame has not made the car smaller) is not re-classified until ``reject_memory`` seconds have passed, so a
street of traffic costs one CNN run per car per interval rather than one per
frame; an object's motion is known from its first look, taken from the region it most likely was on the frame before
(at 5 fps a car moves over half its size a frame: where it was no longer tells where it is); each look that rejects the same object again doubles that, up to
``reject_memory_max``. The pieces a remembered object's blob breaks into are judged together,
as their union — but a region is a part of it only on one of those pieces, not in the space their union spans (two cars
that came in as one blob and drove apart: their union spanned half the suburban road's frame, and a far car that
appeared under it was hidden). An object the frame border cut is classified again sooner if it grew by half since (more of
it came into view: someone walking in from the border) — though not within
``regrowth_interval`` of its last look, as frames that close are near-duplicates;
one seen whole that grows is coming closer, and is looked at again only once it tripled. Each look that rejects it again asks
that growth again of the area it was rejected at (1.5x, 2.25x, ...; 3x, 9x, ...), so a car coming up the road is not
re-classified every few frames. A *sure* rejection (a score under ``sure_below``) asks no growth at all: the CNN
was sure even of the part it saw (slivers of MOT15 people, 15% of their width in view, score under 0.1 on 1% of
crops), so only the memory lapsing brings the object back to it; and it is followed through a quarter of its size
of jitter (a far car is a 5x5 px blob at the motion stage, whose box jumps by two of them between frames). An
*unsure* one seen whole and upright (taller than wide) that moved its own width from where the CNN looked, at a
walker's pace (``max_speed``), is looked at again: the CNN doubted one crop of it (a far walker scores about the
threshold, above and below it, and one doubt hid them for 5 s at SVGA), while a swaying branch stays on its spot, a car
drives faster than anyone walks (unsure cars crossing traffic_overhead's view), and a far car coming up the road, its
motion foreshortened to a walker's pace, is wider than tall. A remembered object whose memory lapses while all of it is
leaving the view through the frame border (as a leaving candidate, below) is let go without another look, its memory
starting over from what is left of it: whatever it is, it is going (a car stopped half out of view is looked at when
that memory lapses). A proposal that covers most of a person track, or of a candidate that may
still be someone (the median of its scores at least ``min_score``) and that a look at the proposal counts for (the
track it matches), is always classified; a candidate most of whose looks rejected it (a car that scored high once), or
a speck of the proposal (a far blob a car's blob swallowed), shields nothing. Each part of a remembered object the CNN
looks at anew is remembered on its own (two cars that drove in as one blob and parted).

A sure rejection that never left the spot the CNN looked at it on (a branch a gust sways, a flag, a reflection) is
remembered out of sight for ``flicker_memory``, others for ``reject_memory``: what shows on that spot again is the same
flicker, held without a look (its memory starts over) while it stays there; something that moves off the spot (a far car
appearing where another one flickered) is looked at.

A candidate leaving the view through the frame border (its region there shows at most three quarters of the most
of it seen, its inner edge moved toward that border) is let go without another look and remembered as rejected:
whatever it is, it is going, and each look at less of it risks a confirmation the whole of it never earned (a car
driving out of traffic_overhead's view scored 0.78-0.89 on its last slivers: a false alert at 30 fps).

A candidate (a track not yet a person) whose box has not moved since the CNN looked at it gets only the
invokes a frame has to spare, and waits ``recheck_interval`` for a look of its own, as a still person's
re-check does: the ESP32's ~10 invokes a second go first to what is new rather than to the same crop again
(the blobs a scene change leaves behind), but are not left unused while a far walker, who barely moves at
the motion stage's resolution and scores about the threshold, waits.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import reduce

import numpy as np

from camera_node.config import DetectorConfig, frames_spanning
from camera_node.tracks import SAME_PLACE, Track, TrackRules
from models.inference import TfliteClassifier, crop_region
from models.inference.cascade import Cascade
from models.inference.preprocess import Box, square_side

logger = logging.getLogger(__name__)

#: Tracks kept at most (people and candidates); beyond, the least convincing are dropped.
MAX_TRACKS = 16
#: Rejected objects remembered at most; beyond, the longest out of sight are forgotten.
MAX_REJECTED = 64
#: A box overlapping the spot a rejected object was first looked at at least this much (IoU) is on that spot.
ON_SPOT = 0.5
#: A re-check's box differing from the person's saved look in more than this share has changed (they left).
APPEARANCE_CHANGE = 0.5
#: Area growth after which a remembered rejection is looked at again: cut by the frame border / seen whole.
REGROWTH_PARTIAL, REGROWTH_WHOLE = 1.5, 3.0
#: A region under this share of the box the CNN rejected is too small in that crop for the verdict to cover it (half
#: its side: about 25 px of the model's 64 px input).
SPOKE_FOR = 0.25
#: A moving detection overlapping the box its track's background was saved under less than this (IoU) is at a new spot.
ARRIVED = 0.5
#: A sure rejection is followed through jitter of this share of its box's width and height on each side, at most
#: JITTER_MOST of the frame's longer side (a far car's 20x20 px blob jumps by two motion-stage pixels, 8 px of a
#: 640 px frame and 40% of its size; a large region gets no more; an unsure rejection is held to its box).
SURE_JITTER, JITTER_MOST = 0.25, 0.0125
#: Within this share of the frame's longer side from its border, a box touches the border.
EDGE = 0.02
#: A track whose box lies at least this share in a spot the motion stage saw vacated has left it.
VACATED = 0.5
#: A candidate's region at the frame border showing at most this share of the most of it seen, its inner edge
#: moved toward that border by a tenth of its width (or height), is leaving the view.
LEAVING = 0.75


@dataclass
class Detection:
    """A classified region in sensor-frame pixels."""

    box: Box
    score: float
    person: bool  # a person sighting: a score that counted for a track the evidence calls a person
    from_track: bool = False
    on_person: bool = False  # the region is the track's of someone the evidence called a person (now or before)


@dataclass
class Rejected:
    """A moving region the CNN confidently rejected, followed while it keeps moving."""

    box: Box
    classified: float  # when the CNN last looked at it
    seen: float  # when a proposal last matched it
    classified_box: Box  # the box the CNN looked at then
    partial: bool = False  # the box touched the frame border then: only part of the object was in view
    sure: bool = False  # the last look scored under detector.sure_below: growth does not ask for another
    looks: int = 1  # confident rejections in a row
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second (see motion_from)
    before: Box | None = None  # the box before the last move (the blob may have shown only a fragment of it since)
    peak: Box | None = None  # the largest box since the last look: the most of it seen at once (default: ``box``)
    pieces: tuple[Box, ...] = ()  # the regions it was last seen as (``box`` is their union; default: ``box`` alone)
    spot: Box | None = None  # where the CNN first looked at it (default: ``box``)
    stayed: bool = True  # every sighting since was on ``spot`` (:data:`ON_SPOT`)
    revived: bool = False  # its memory started over as it showed on its spot again, without a look: it holds only there

    def __post_init__(self) -> None:
        if self.peak is None:
            self.peak = self.box
        if self.spot is None:
            self.spot = self.box
        self.pieces = self.pieces or (self.box,)

    @property
    def flickers(self) -> bool:
        """A sure rejection that never left its spot (a branch a gust sways): what shows there again is the same."""
        return self.sure and self.stayed

    def follows(self, box: Box, timestamp: float, jitter_most: float = 0.0) -> bool:
        """Is ``box`` this object, or a part of it, moved on: at most twice its size (four times if it
        holds most of it: more of the object coming into view; its size is the larger of its last two boxes, as a
        blob may show only a fragment of the object for a frame), and mostly on one of the pieces it was last seen
        as, where it was or where the object's motion puts it now (a blob's centre jitters from frame to frame, so
        neither place alone is reliable; not on their union, which spans whatever lies between two cars that came
        in as one blob and drove apart) — or, after a sure rejection, on either grown by :data:`SURE_JITTER` of its
        size, at most ``jitter_most`` pixels (a small blob's jitter is a large share of its size; the CNN was sure,
        so the slack risks little)?"""
        size = max(self.box.area, self.before.area) if self.before is not None else self.box.area
        if box.area > 4.0 * size or (box.area > 2.0 * size and box.intersection_area(self.box) < 0.8 * self.box.area):
            return False
        dt = timestamp - self.seen
        return any(box.intersection_area(self._jittered(place, jitter_most)) >= 0.5 * min(box.area, place.area)
                   for piece in self.pieces
                   for place in (piece, piece.shifted(self.velocity[0] * dt, self.velocity[1] * dt)))

    def _jittered(self, place: Box, most: float) -> Box:
        """``place`` with the slack a sure rejection's blob jitters by (:data:`SURE_JITTER`, at most ``most`` px)."""
        if not self.sure:
            return place
        return place.grown(min(SURE_JITTER * place.w, most), min(SURE_JITTER * place.h, most))

    def memory(self, first: float, longest: float) -> float:
        """How long this rejection holds: ``first`` after one look, doubling with each look that rejected
        it again, up to ``longest`` (a swaying branch or a car waiting at a light costs ever fewer looks);
        ``longest`` at once after a sure one (the CNN was sure: a car costs a look as it enters, not one more
        every ``first`` seconds it stays in view)."""
        longest = max(first, longest)
        return longest if self.sure else min(first * 2 ** (self.looks - 1), longest)

    def still_holds(self, box: Box, timestamp: float, memory: float, regrowth_interval: float) -> bool:
        """Is the rejection still good for ``box``: within ``memory`` seconds, and not grown enough to be worth
        a new look (or so little time since that a new look would see nearly the same frame)? One the frame
        border cut shows more of itself once it grew by half; one seen whole that grows is coming closer, a
        new look seeing the same object larger, so only once it tripled (a person walking up the scene whom
        the first, small look missed). Each rejection asks that growth again: ``looks`` of them, its power.
        A sure rejection asks none."""
        age = timestamp - self.classified
        growth = (REGROWTH_PARTIAL if self.partial else REGROWTH_WHOLE) ** self.looks
        grown = not self.sure and box.area >= growth * self.classified_box.area
        on_spot = not self.revived or box.iou(self.spot) >= ON_SPOT
        return age < memory and (not grown or age < regrowth_interval) and on_spot

    def walked_on(self, box: Box, timestamp: float, max_speed: float) -> bool:
        """Has an unsure rejection seen whole, now at ``box`` (upright: taller than wide), moved its own width from the
        box the CNN looked at, at a walker's pace (at most ``max_speed`` of its heights a second)? The CNN doubted one crop
        of it there (a far walker scores about the threshold, above and below it): one doubt does not hide them while
        they cross the scene. A sure one was no walker — unless ``box`` is under :data:`SPOKE_FOR` of the box the CNN
        looked at, too small in that crop for the verdict to cover (someone walking inside a region a scene's change
        lit up); a swaying branch stays on its spot; a car drives faster than
        anyone walks, and one coming up the road, its motion foreshortened to a walker's pace, is wider than tall; the
        centre of one the frame border cut moves as more or less of it comes into view."""
        travelled = math.hypot(box.cx - self.classified_box.cx, box.cy - self.classified_box.cy)
        pace = travelled / max(box.h, 1.0) / max(timestamp - self.classified, 1e-6)
        judged = box.area >= SPOKE_FOR * self.classified_box.area
        return not ((self.sure and judged) or self.partial) and box.h > box.w and travelled >= box.w and pace <= max_speed

    def move(self, box: Box, timestamp: float, pieces: Iterable[Box] = ()) -> None:
        """Seen again at ``box``, as ``pieces`` (their union; default: ``box`` alone)."""
        dt = timestamp - self.seen
        if dt > 0:
            self.velocity = ((box.cx - self.box.cx) / dt, (box.cy - self.box.cy) / dt)
        self.before, self.box, self.seen = self.box, box, timestamp
        self.pieces = tuple(pieces) or (box,)
        self.stayed = self.stayed and box.iou(self.spot) >= ON_SPOT
        if box.area > self.peak.area:
            self.peak = box

    def looked_at(self, box: Box, timestamp: float, partial: bool) -> None:
        """The CNN looked at it again, now at ``box`` (or it was let go as it left the view): its memory starts over."""
        self.classified, self.classified_box, self.partial, self.peak = timestamp, box, partial, box
        self.revived = False

    def flickered_back(self, timestamp: float) -> None:
        """It showed on its spot again after ``reject_memory`` out of sight, a flicker (:attr:`flickers`): its memory
        starts over without a look, and holds only while it stays on that spot (a far car that appeared where another
        one did moves off it and is looked at)."""
        self.classified, self.revived = timestamp, True


def motion_from(box: Box, timestamp: float, before: tuple[float, list[Box]] | None) -> tuple[float, float]:
    """The velocity (pixels per second) of ``box``'s centre from the region of the frame ``before`` (its time, its
    proposals) it most likely was: the nearest of comparable size (half to twice its area) whose centre lies at most
    its size away; none such: at rest."""
    if before is None or timestamp <= before[0]:
        return 0.0, 0.0
    def away(b: Box) -> float:
        return math.hypot(box.cx - b.cx, box.cy - b.cy)

    near = [b for b in before[1] if 0.5 <= b.area / max(box.area, 1.0) <= 2.0 and away(b) <= max(box.w, box.h)]
    if not near:
        return 0.0, 0.0
    was, dt = min(near, key=away), timestamp - before[0]
    return (box.cx - was.cx) / dt, (box.cy - was.cy) / dt


def scale_box(box: Box, factor: float) -> Box:
    return Box(box.x * factor, box.y * factor, box.w * factor, box.h * factor)


def crop_scale(box: Box, size: int, coarsest: int) -> int:
    """The decode (1/n of the sensor frame) to cut ``box``'s ``size``-pixel crop from: ``coarsest``, or finer
    where that would leave the crop fewer pixels than the model's input (a far person cut from the 1/2 decode
    is blurred beyond what the model learnt from), down to full resolution."""
    side = square_side(box)
    scale = coarsest
    while scale > 1 and side / scale < size:
        scale //= 2
    return scale


class PersonStage:
    """Runs the CNN on proposals and track re-checks; keeps the tracks."""

    def __init__(self, cfg: DetectorConfig, classifier: TfliteClassifier, threshold: float, person_scale: int,
                 frame_size: tuple[int, int] | None = None,
                 on_crops: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
                 cascade: Cascade | None = None, *, fps: float) -> None:
        """``fps``: the rate of the frame indices :meth:`process` is given (``recheck_interval`` is counted in them)."""
        self.cfg = cfg
        self.fps = fps
        self.recheck_frames = frames_spanning(cfg.recheck_interval, fps)  # at least recheck_interval apart
        self.on_crops = on_crops  # sees every frame's model-input crops and scores (crop mining)
        self.frame_size = frame_size
        self.classifier = classifier
        self.cascade = cascade  # when set: ``classifier`` screens, the cascade's confirmation model decides
        self.rules = TrackRules(0.0, 0.0, cfg.confirm_hits, cfg.max_speed)
        self._judge_by(cascade.threshold if cascade is not None else threshold)
        self.person_scale = person_scale
        self.tracks: list[Track] = []
        self.rejected: list[Rejected] = []
        self._proposed: tuple[float, list[Box]] | None = None  # the last frame's time and proposals
        self.inferences = 0
        self.remembered = 0  # proposals not classified because they follow a recently rejected object
        self.skipped = 0  # candidates left unclassified by the per-frame cap or the MCU budget
        self.unmoved = 0  # proposals left unclassified because their candidate track was looked at lately where it stands

    def set_threshold(self, threshold: float) -> None:
        """A new person threshold at run time (config/set): on the model's score, or with a cascade the
        confirmation threshold on the mean of both scores; the track rules judge by it from the next score."""
        if self.cascade is not None:
            self.cascade.confirm_threshold = threshold
        self._judge_by(self.cascade.threshold if self.cascade is not None else threshold)

    def _judge_by(self, threshold: float) -> None:
        """Persons score at least ``threshold`` (the model's, or the cascade's combined score); evidence counts from
        ``min_score``, capped at it."""
        self.threshold = threshold
        self.rules = replace(self.rules, threshold=threshold, min_score=min(self.cfg.min_score, threshold))

    def process(
        self,
        frame_index: int,
        timestamp: float,
        proposals: list[Box],
        decode: Callable[[int], np.ndarray],
        budget_left: int,
        snapshot: Callable[[Box], object],
        differs: Callable[[Box, object], float],
        look: Callable[[Box], object] | None = None,
        empty_scene: Callable[[Box], object] | None = None,
        dark: Callable[[], bool] | None = None,
    ) -> list[Detection]:
        """Classify ``proposals`` (sensor-frame pixels) and due track re-checks.

        ``decode(n)`` returns the grayscale frame decoded at 1/n; it is called only
        if something needs classifying, once per scale (:func:`crop_scale`). ``budget_left`` caps the CNN runs.
        ``snapshot(box)`` saves the background the motion stage has learnt under a box, ``empty_scene(box)`` the
        scene as it looks when nothing covers it (default: ``snapshot``), saved when a person arrives at a spot;
        ``differs(box, saved)`` is the share of the box that now differs from
        the saved empty scene: a track is re-checked (the CNN run) only above ``recheck_foreground``.
        ``look(box)`` saves what the box shows now (the person when last seen
        moving): a re-check counts only while the box still looks like that
        (someone sitting still), not once it changed (they left, and the spot's
        new look can score person-like, even at the threshold).
        ``dark()``: were the crops stretched (a dark, flat scene)? A track then asks ``confirm_looks_dark`` looks
        before it can be confirmed (:class:`camera_node.tracks.TrackRules`).
        """
        self._expire(timestamp)
        before, self._proposed = self._proposed, (timestamp, list(proposals))
        unremembered, followed = self._unremembered(proposals, timestamp)
        fresh: list[Box] = []
        lately: list[Box] = []  # candidates looked at lately where they stand: only the invokes left over
        for p in unremembered:
            track = self._match(p, timestamp)
            if not self._let_go_leaving(p, track, timestamp):
                (lately if self._looked_at_lately(p, track, frame_index) else fresh).append(p)
        # (box, the track a re-check is for or None for a proposal, the box still looks as the person did)
        candidates: list[tuple[Box, Track | None, bool]] = [(p, None, True) for p in fresh]
        for track in self.tracks:
            due = track.person and frame_index - track.last_checked_frame >= self.recheck_frames
            if not due or any(track.box.iou(p) > 0.2 and not track.says_little_of(p, timestamp) for p in proposals):
                continue
            empty = differs(track.background_box or track.box, track.background)  # from the empty spot, that share
            if empty < self.cfg.recheck_foreground:
                track.last_checked_frame = frame_index  # the spot looks empty again: nobody to classify there
                continue
            # still their look: less of the box differs from it than from the empty spot (at night both differ little)
            unchanged = (track.appearance is None
                         or differs(track.appearance_box or track.box, track.appearance) < min(APPEARANCE_CHANGE, empty))
            if not unchanged and differs(track.box, snapshot(track.box)) < self.cfg.recheck_foreground:
                # no longer the person's look, and what the spot shows now is the scene's settled background (a
                # person-like poster they walked past, say): they left; a sitter learnt in still looks as they did
                track.last_checked_frame = frame_index
                continue
            candidates.append((track.box, track, unchanged))
        allowed = min(self.cfg.max_inferences_per_frame, budget_left)
        self.skipped += max(0, len(candidates) - allowed)
        spare = max(0, allowed - len(candidates))
        self.unmoved += max(0, len(lately) - spare)
        candidates += [(p, None, True) for p in lately[:spare]]
        candidates = candidates[:allowed]
        if not candidates:
            return []
        frames: dict[int, np.ndarray] = {}

        def crop(box: Box, size: int) -> np.ndarray:
            scale = crop_scale(box, size, self.person_scale)
            if scale not in frames:
                frames[scale] = decode(scale)
            return crop_region(frames[scale], scale_box(box, 1.0 / scale), size)

        def cut(size: int, index: Iterable[int]) -> np.ndarray:
            return np.stack([crop(candidates[i][0], size) for i in index])

        crops = cut(self.classifier.input_size, range(len(candidates)))
        scores = self.cascade.predict(crops, cut) if self.cascade is not None else self.classifier.predict(crops)
        self.inferences += len(candidates)
        if self.on_crops is not None:
            self.on_crops(frame_index, crops, scores)
        detections = [Detection(box, float(score), False, track is not None) for (box, track, _), score in zip(candidates, scores)]
        rules = replace(self.rules, looks=self.cfg.confirm_looks_dark) if dark is not None and dark() else self.rules
        self._update_tracks(frame_index, timestamp, detections, [c[1:] for c in candidates], empty_scene or snapshot, look,
                            rules)
        self._remember_rejections(timestamp, detections, followed, before)
        return detections

    def occupied(self) -> list[Box]:
        """Where the people the evidence called a person stand (sensor-frame pixels; one it doubts now included): the
        motion stage's slow background does not learn them there, so it shows their spot uncovered when they leave."""
        return [t.box for t in self.tracks if t.confirmed]

    def vacate(self, spots: list[Box]) -> None:
        """The motion stage absorbed these ghosts (sensor-frame pixels): something it had learnt in as background
        left them, and they show the empty scene again. A track standing mostly in one (someone who sat there,
        now gone) has left with it; it is ended rather than re-checked on the empty spot, which can score
        person-like (the first frame after they go, the spot is still proposed, and cut as they left it)."""
        if spots:
            self.tracks = [t for t in self.tracks
                           if not any(t.box.intersection_area(s) >= VACATED * t.box.area for s in spots)]

    def _unremembered(self, proposals: list[Box], timestamp: float) -> tuple[list[Box], dict[int, Rejected]]:
        """The proposals that need the CNN (all but the parts of a recently rejected object), and the
        rejected object each of them follows, if any (keyed by ``id`` of the proposal).

        Proposals are matched against where each remembered object was or should be now, the one the CNN looked at
        last first (an older rejection of the same spot may have lapsed while the newer one holds); the parts one
        object splits into (a car's blob breaking up) are judged together, as their union."""
        flicker_memory = max(self.cfg.reject_memory, self.cfg.flicker_memory)
        self.rejected = [r for r in self.rejected  # out of sight this long: gone
                         if timestamp - r.seen <= (flicker_memory if r.flickers else self.cfg.reject_memory)]
        flickered = {id(r) for r in self.rejected if timestamp - r.seen > self.cfg.reject_memory}  # kept as flickers
        latest_first = sorted(self.rejected, key=lambda r: -r.classified)
        jitter_most = JITTER_MOST * max(self.frame_size) if self.frame_size is not None else 0.0
        owner: dict[int, Rejected] = {}
        parts: dict[int, list[Box]] = {}

        def follows(r: Rejected, p: Box) -> bool:  # a flicker back: only on its spot
            return p.iou(r.spot) >= ON_SPOT if id(r) in flickered else r.follows(p, timestamp, jitter_most)

        for p in proposals:
            r = next((r for r in latest_first if follows(r, p)), None)
            if r is not None:
                owner[id(p)] = r
                parts.setdefault(id(r), []).append(p)
        held: set[int] = set()
        for r in self.rejected:
            mine = parts.get(id(r))
            if not mine:
                continue
            whole = reduce(Box.union, mine)
            if id(r) in flickered:
                r.flickered_back(timestamp)
            memory = r.memory(self.cfg.reject_memory, self.cfg.reject_memory_max)
            holds = r.still_holds(whole, timestamp, memory, self.cfg.regrowth_interval) and not (
                r.walked_on(whole, timestamp, self.cfg.max_speed) and not self._at_edge(whole))
            leaving = not holds and all(self._at_edge(p) for p in mine) and self._leaving(whole, r.peak)
            if (holds or leaving) and not any(self._covers_track(p) for p in mine):
                if leaving:  # going out of view, all of it: let go without a look
                    r.looked_at(whole, timestamp, partial=True)
                r.move(whole, timestamp, mine)
                held.update(id(p) for p in mine)
        self.remembered += len(held)
        out = [p for p in proposals if id(p) not in held]
        return out, {id(p): owner[id(p)] for p in out if id(p) in owner}

    def _let_go_leaving(self, box: Box, track: Track | None, timestamp: float) -> bool:
        """Is ``box``, of ``track``, a candidate (a track not yet a person) leaving the view through the frame border? Then it is
        let go without a look: its track ends and the region is remembered as rejected (cut by the border: looked at
        again if it grows by half, coming back in). Whatever it is, it is going, and each look at less of it risks a
        confirmation the whole of it never earned (a car driving out scored 0.78-0.89 on its last slivers)."""
        if track is None or track.person or track.peak is None or not self._leaving(box, track.peak):
            return False
        self.tracks = [t for t in self.tracks if t is not track]
        if self.cfg.reject_memory > 0:
            self._remember(Rejected(box, timestamp, timestamp, box, partial=True))
        self.remembered += 1
        return True

    def _leaving(self, box: Box, peak: Box) -> bool:
        """Does ``box``, at the frame border, show at most :data:`LEAVING` of ``peak``, its inner edge moved toward
        that border by a tenth of ``peak``'s extent?"""
        if box.area > LEAVING * peak.area:
            return False
        left, top, right, bottom = self._borders(box)
        return ((left and box.x + box.w <= peak.x + 0.9 * peak.w) or (right and box.x >= peak.x + 0.1 * peak.w)
                or (top and box.y + box.h <= peak.y + 0.9 * peak.h) or (bottom and box.y >= peak.y + 0.1 * peak.h))

    def _looked_at_lately(self, box: Box, track: Track | None, frame_index: int) -> bool:
        """Is ``box``, of ``track``, a candidate (a track not yet a person) that has not moved since the CNN looked at it, less
        than ``recheck_interval`` ago? The same crop again would spend the budget something new needs (the
        blobs a scene change leaves), so it gets only what the frame has to spare (a far figure barely moving)."""
        return (track is not None and not track.person and track.box.iou(box) >= SAME_PLACE
                and frame_index - track.last_checked_frame < self.recheck_frames)

    def _covers_track(self, box: Box) -> bool:
        """Does ``box`` cover most of a track that is, or may still be, someone (merged into the blob)? A candidate
        counts only while a look at ``box`` would be evidence for it (it is the track ``box`` matches: a speck of the
        region, a far blob a car's swallowed, is not), and not once most of its looks rejected it (a car that scored
        high once): the rejection memory hides no one there."""
        covered = [t for t in self.tracks if t.box.intersection_area(box) >= 0.5 * t.box.area]
        if any(t.person for t in covered):
            return True
        maybe = [t for t in covered if t.score >= self.rules.min_score]
        return bool(maybe) and self._match(box) in maybe

    def _remember_rejections(self, timestamp: float, detections: list[Detection], followed: dict[int, Rejected],
                             before: tuple[float, list[Box]] | None) -> None:
        """Follow moving regions scored below ``reject_below``; forget one the CNN found less sure of, or that is the
        region of a track the evidence called a person, now or before (a low score there is evidence against the
        track, judged by its rules: remembered as rejected, a walker the CNN doubts for a few frames would be held
        unseen once they left their track's box, or once the doubts took their track's median under min_score). A new
        one moves as the region it most likely was on the frame ``before`` (:func:`motion_from`)."""
        if self.cfg.reject_memory <= 0:
            return
        claimed: set[int] = set()  # rejections a look of this frame already spoke for
        for det in detections:
            if det.from_track:
                continue
            r = followed.get(id(det.box))
            if r is not None and id(r) in claimed:  # another part of the same object was looked at too: each part
                r = None  # is its own object now (two cars that drove in as one blob parted), remembered on its own
            elif r is not None:
                claimed.add(id(r))
            sure = det.score < self.cfg.sure_below
            if det.on_person or det.score >= self.cfg.reject_below:
                if r is not None:
                    self.rejected = [x for x in self.rejected if x is not r]
            elif r is not None:
                r.move(det.box, timestamp)
                r.looked_at(det.box, timestamp, self._at_edge(det.box))
                r.looks += 1
                r.sure = sure
            else:
                self._remember(Rejected(det.box, timestamp, timestamp, det.box, self._at_edge(det.box), sure=sure,
                                        velocity=motion_from(det.box, timestamp, before)))

    def _remember(self, rejected: Rejected) -> None:
        """Remember a rejection, at most :data:`MAX_REJECTED` of them: the one longest out of sight goes first."""
        self.rejected.append(rejected)
        if len(self.rejected) > MAX_REJECTED:
            self.rejected.remove(min(self.rejected, key=lambda r: r.seen))

    def _expire(self, timestamp: float) -> None:
        """Drop tracks without a counted positive for ``track_ttl``, or kept by re-checks alone too long: one
        whose scores keep reaching the threshold for up to ``still_timeout`` (someone at a desk), weaker
        evidence for ``stationary_timeout`` — at the frame border too: someone who walked out of view leaves
        a spot that looks empty (no re-check) or that the motion stage absorbs as vacated (:meth:`vacate`)."""
        def alive(t: Track) -> bool:
            if timestamp - t.last_positive > self.cfg.track_ttl:
                return False
            still = timestamp - (t.last_moved if t.last_moved is not None else t.last_positive)
            return still <= (self.cfg.still_timeout if t.score >= self.threshold else self.cfg.stationary_timeout)

        self.tracks = [t for t in self.tracks if alive(t)]

    def _at_edge(self, box: Box) -> bool:
        """Touching the frame border: only part of what is there may be in view."""
        return any(self._borders(box))

    def _borders(self, box: Box) -> tuple[bool, bool, bool, bool]:
        """Which frame borders ``box`` touches (within :data:`EDGE`): left, top, right, bottom (none without a frame size)."""
        if self.frame_size is None:
            return False, False, False, False
        w, h = self.frame_size
        return box.borders(w, h, EDGE * max(w, h))

    def _update_tracks(self, frame_index: int, timestamp: float, detections: list[Detection],
                       origins: list[tuple[Track | None, bool]], empty_scene: Callable[[Box], object],
                       look: Callable[[Box], object] | None, rules: TrackRules) -> None:
        """Each classification is evidence for its track (:mod:`camera_node.tracks`): a re-check's own, else
        the one a motion region matches; a motion region scored at least ``min_score`` that matches none
        starts a track. A detection is a person sighting when its track's evidence says so and its score counted
        as evidence (a doubted region of a person track is none: it neither starts nor extends an event)."""
        for det, (rechecked, same) in zip(detections, origins):
            track = rechecked if rechecked is not None else self._match(det.box, timestamp)
            positive = part = False
            if track is not None:  # (judged where the track stood before this look)
                part = not det.from_track and track.is_part(det.box, timestamp)
                little = not det.from_track and track.says_little_of(det.box, timestamp)
                positive = track.observe(det.score, timestamp, rules, None if det.from_track else det.box, same)
                if positive or not little:  # a doubt on a crop saying little of a person is no look at them: their
                    # box is re-checked
                    track.last_checked_frame = frame_index
            elif not det.from_track and det.score >= rules.min_score:
                track = Track(det.box, timestamp, frame_index)
                positive = track.observe(det.score, timestamp, rules, det.box)
                self.tracks.append(track)
            if positive and not det.from_track:  # seen moving: the empty background behind them, and how they look
                # (under the track's box: a part of them moving on its own leaves it where it was)
                if track.background_box is None or track.background_box.iou(track.box) < ARRIVED:
                    track.background, track.background_box = empty_scene(track.box), track.box  # arrived at a new spot
                if not part or det.score >= rules.threshold:  # a doubted part: maybe what is left of them
                    track.appearance, track.appearance_box = (look(track.box), track.box) if look is not None else (None, None)
            det.on_person = track is not None and track.confirmed
            det.person = track is not None and track.person and positive
        if len(self.tracks) > MAX_TRACKS:  # bounded: the least convincing go first
            self.tracks = sorted(self.tracks, key=lambda t: (not t.person, -t.last_positive))[:MAX_TRACKS]

    def _match(self, box: Box, timestamp: float | None = None) -> Track | None:
        """The track ``box`` belongs to: the best overlap above 0.2 IoU — but a person's whom ``box`` continues
        (:meth:`_continues`) before a candidate's (someone who stopped beside a candidate, their regions merged: the
        region is the person's evidence) — else, at ``timestamp``, the best overlap above 0.2 with where a track's
        motion puts it (:meth:`Track.ahead`: at 5 fps a walker moves half their width a frame, and a frame or two of
        fragments leave their region off the box last seen), else the first that ``box`` continues."""
        best = max(self.tracks, key=lambda t: t.box.iou(box), default=None)
        if best is not None and best.box.iou(box) > 0.2:
            return best if best.person else next((t for t in self.tracks if t.person and self._continues(t, box)), best)
        if timestamp is not None:
            ahead = [(t, place.iou(box)) for t in self.tracks if (place := t.ahead(timestamp)) is not None]
            moved_there = max(ahead, key=lambda ta: ta[1], default=None)
            if moved_there is not None and moved_there[1] > 0.2:
                return moved_there[0]
        return next((t for t in self.tracks if self._continues(t, box)), None)

    @staticmethod
    def _continues(track: Track, box: Box) -> bool:
        """Is ``box``, at a comparable size (a fifth to four times the track's box), a part of ``track`` (its centre in
        the track's box: a person's head or legs moving on their own are still that person; their upper body alone, half
        their width and height, is a quarter of their box, and its blob can be less: 0.23 for a walker at dusk, whose
        part then started a track of its own and their alert came 0.93 s after they appeared) or more of it (holding the track's
        centre: more of them in view than when last seen moving)?"""
        part = track.box.grown(0.1 * track.box.w, 0.1 * track.box.h).contains(box.cx, box.cy)
        inside = part or box.contains(track.box.cx, track.box.cy)
        return inside and 0.2 <= box.area / max(track.box.area, 1.0) <= 4.0
