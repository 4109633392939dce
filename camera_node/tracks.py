"""What a tracked region's evidence says: is it a person, and is it still there?

A track collects the CNN's scores on one region over time (on motion
proposals that match it and on re-checks while it stands still). One score
decides nothing, as in Frigate's ``min_score``/``threshold`` pair:

* it **becomes a person** once ``confirm_hits`` of its recent scores (k of
  the last ``SCORE_HISTORY``) reach the model's threshold, the median of
  them reaches ``min_score`` (a car roof that scored high twice among low
  scores is not one), and it moves like a person: a region crossing more
  than ``max_speed`` of its own heights a second (a car at 10 m/s) is never
  confirmed, nor one that has not moved since it appeared (the same crop again
  is no new evidence: what a scene cut left in a corner scored 0.81-0.86 on
  five frames; a person does not appear without moving). A small, far walker scores around the threshold, above and
  below it, so a median at the threshold would wait seconds for them. It may be asked to have been looked at more
  often than that (``looks``: the person stage asks three on a dark scene, whose stretched crops carry the sensor's
  noise amplified: a car's fragments hop from one track to the next, and one of them can score high twice);
* a confirmed track **stays a person** while that median stays at or above
  ``min_score`` (hysteresis: someone sitting still scores lower than someone
  walking, but keeps scoring) and it keeps moving plausibly; a doubt on a crop
  of a part of them (the legs of someone stopping) or of them and more (someone
  walking in beside them) is not counted: it says too little of them;
* its **last positive** is the last score at or above ``min_score`` on a
  moving region or on a re-check of a box that still looks as the person did
  when last seen moving; a re-check of a box whose look changed without any
  motion there is never evidence, however it scores (they left, and an empty
  spot can score at the threshold); the person stage lets the track go
  ``track_ttl`` after its last positive.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from models.inference.preprocess import Box

#: Scores a track's median is taken over (bounded: long-running state).
SCORE_HISTORY = 7
#: A box under this share of the track's area, centred inside it, is a part of the person (see Track.observe).
PART = 0.5
#: Regions overlapping at least this (IoU) lie in the same place (a region that has not moved).
SAME_PLACE = 0.9
#: A region at least this many times the area of a person's box, holding its centre, holds them and more.
MERGED = 2.0
#: Seconds after a track was last seen moving that its motion still says where it is (a frame or two of fragments at 5 fps).
AHEAD_MOST = 1.0
#: A doubted region overlapping a person track's box at least this (IoU) moves the track there (see Track.observe).
FOLLOW = 0.3


@dataclass
class TrackRules:
    """The thresholds a track's evidence is judged by (from the detector config and the model)."""

    threshold: float  # median to become a person
    min_score: float  # a score at least this is evidence for; the median to stay a person
    confirm_hits: int = 2
    max_speed: float = 4.0  # box heights per second
    looks: int = 1  # scores a track must have had (confident or not) before it can become a person


@dataclass
class Track:
    """One region followed over frames, with its evidence."""

    box: Box
    first_seen: float
    last_checked_frame: int
    background: object = None  # the empty background under ``background_box``, saved when the person arrived there
    background_box: Box | None = None
    appearance: object = None  # what the box showed when last seen moving (the person) ...
    appearance_box: Box | None = None  # ... under this box
    whole: Box | None = None  # the box of the last score at the threshold on a motion region: the person seen whole
    last_moved: float | None = None  # time of the last classification on a motion region
    last_positive: float = 0.0  # time of the last score >= min_score
    person: bool = False  # the evidence says a person (see the module docstring)
    confirmed: bool = False  # the evidence said so once (a person it doubts now is still followed as theirs)
    scores: deque = field(default_factory=lambda: deque(maxlen=SCORE_HISTORY))
    origin: tuple[float, float, float] | None = None  # (t, cx, cy) where motion first placed it
    peak: Box | None = None  # the largest region motion matched to it: the most of it seen at once
    first: Box | None = None  # the first region motion matched to it
    moved: bool = False  # a region motion matched to it since lay elsewhere than the first (IoU under SAME_PLACE)

    def __post_init__(self) -> None:
        self.confirmed = self.confirmed or self.person

    @property
    def score(self) -> float:
        """Median of the recent scores (0 before any)."""
        ordered = sorted(self.scores)
        if not ordered:
            return 0.0
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])

    def speed(self, timestamp: float) -> float:
        """Travel since the first sighting in box heights per second (0 until a tenth of a second has passed)."""
        if self.origin is None or timestamp - self.origin[0] < 0.1:
            return 0.0
        t0, x0, y0 = self.origin
        return math.hypot(self.box.cx - x0, self.box.cy - y0) / max(self.box.h, 1.0) / (timestamp - t0)

    def ahead(self, timestamp: float) -> Box | None:
        """Where its motion since first seen puts its box at ``timestamp``: None before it was seen moving twice, or
        :data:`AHEAD_MOST` after it was last (someone who sat down is not expected to walk on)."""
        if (self.origin is None or self.last_moved is None or self.last_moved - self.origin[0] < 0.05
                or timestamp - self.last_moved > AHEAD_MOST):
            return None
        t0, x0, y0 = self.origin
        spent, dt = self.last_moved - t0, timestamp - self.last_moved
        return self.box.shifted((self.box.cx - x0) / spent * dt, (self.box.cy - y0) / spent * dt)

    def is_part(self, box: Box, timestamp: float | None = None) -> bool:
        """Is ``box`` a part of the person (under half the area of the box they were last confidently seen in, of
        the box the track holds now, or of where its motion puts it at ``timestamp`` (:meth:`ahead`), its centre inside
        that box: they may have walked on since): legs, an arm, what is left of them as they walk out of a spot?"""
        ahead = self.ahead(timestamp) if timestamp is not None else None
        return any(box.area < PART * ref.area and ref.contains(box.cx, box.cy)
                   for ref in (self.whole, self.box, ahead) if ref is not None)

    def _holds_more(self, box: Box) -> bool:
        """Does ``box`` hold the track's box (its centre, give or take a tenth of the box: where the track's box
        was last placed is that uncertain) and as much again?"""
        slack = box.grown(0.1 * self.box.w, 0.1 * self.box.h)
        return box.area > MERGED * self.box.area and slack.contains(self.box.cx, self.box.cy)

    def says_little_of(self, box: Box, timestamp: float | None = None) -> bool:
        """Is a crop of ``box`` too little of the person (:meth:`is_part` at ``timestamp``) or mostly of something else
        (a region holding them and more) for a doubt on it to say anything of them?"""
        return self.person and (self.is_part(box, timestamp) or self._holds_more(box))

    def observe(self, score: float, timestamp: float, rules: TrackRules, box: Box | None = None,
                unchanged: bool = True) -> bool:
        """Add one classification: on a motion region that matched (``box`` given, the track moves there)
        or a re-check of the box where it stands (``box`` None; ``unchanged``: the box still looks as when the
        person was last seen moving). Judge the evidence; return whether this score counted for the track
        (at least ``min_score``; a re-check of a changed box never). On a region holding a person and more
        (:data:`MERGED` times their box: someone walked in beside them, their blobs merged) a doubt (under
        ``min_score``) is no evidence either way, the crop being mostly of the rest, and only a score at the threshold
        moves the track there (the person seen whole, coming closer); nor is a doubt on a part of them
        (:meth:`is_part`: the legs of someone stopping, the crop holding too little of them to say)."""
        # judged where the track stood before this look (its motion moves on with it)
        part = box is not None and self.is_part(box, timestamp)
        merged = self.person and box is not None and self._holds_more(box)
        if box is not None and self.says_little_of(box, timestamp) and score < rules.min_score:
            self.last_moved = timestamp
            return False
        self.scores.append(score)
        if box is not None:
            self.last_moved = timestamp
            if self.peak is None or box.area > self.peak.area:
                self.peak = box
            if self.first is None:
                self.first = box
            self.moved = self.moved or box.iou(self.first) < SAME_PLACE
        positive = (box is not None or unchanged) and score >= rules.min_score  # a changed look without motion: gone
        if box is not None and not positive and self.person and box.iou(self.box) >= FOLLOW and not part:
            self.box = box  # the region continuing a person's, doubted this once, still shows where they went
        if positive:
            self.last_positive = timestamp
            if box is not None:  # (a doubted region moves the track only where it continues theirs, above) a part
                if part:  # of the person moving on its own does not shrink it to that part: the
                    self.box = self.box.shifted_to_hold(box)  # person is where a box of their size holds it
                elif not (merged and score < rules.threshold):  # nor does someone beside them stretch it over both
                    self.box = box
                    if score >= rules.threshold:
                        self.whole = box
                if self.origin is None:
                    self.origin = (timestamp, box.cx, box.cy)
        plausible = self.speed(timestamp) <= rules.max_speed
        if self.person:
            self.person = plausible and self.score >= rules.min_score
        else:
            confident = sum(s >= rules.threshold for s in self.scores)
            self.person = (self.moved and plausible and confident >= rules.confirm_hits
                           and len(self.scores) >= rules.looks and self.score >= rules.min_score)
        self.confirmed = self.confirmed or self.person
        return positive
