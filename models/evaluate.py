"""Score our model and every peer model on the same labelled regions, side by side, source by source.

Each model gets the regions at its own input size, channels and
quantisation; peers are tried with every crop fit and context and keep their
best, ours is fed only the crop the node makes. On each source ours is a
model that never saw it (leave-one-source-out, :func:`held_out_model`); with
a confirmation model the cascade is scored too. Writes ``evaluation.json``,
``evaluation.md`` (cross-source summary, then a table per source) and one
ROC plot PNG per source with persons.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.data.regions import RegionSet
from models.data.sources import trained_sources
from models.inference import Backend, CropFit, TfliteClassifier
from models.inference.cascade import open_cascade
from models.inference.measure import count_macs, estimate_latency, min_arena_size
from models.inference.model_info import (
    FALLBACK_THRESHOLD,
    operating_threshold,
)
from models.inference.preprocess import DEFAULT_CONTEXT
from models.metrics import operating_point, recall_by_size, roc_auc, roc_curve

logger = logging.getLogger(__name__)

PEER_FITS = [(fit, ctx) for fit, ctx in itertools.product(CropFit, (1.0, DEFAULT_CONTEXT))]


@dataclass
class ModelCost:
    """What a model costs on the MCU, measured from its flatbuffer."""

    flash_bytes: int
    macs: int
    arena_bytes: int
    esp32_ms: float
    esp32s3_ms: float

    @classmethod
    @functools.lru_cache(maxsize=32)
    def measure(cls, flatbuffer: bytes) -> ModelCost:
        """Measured once per flatbuffer (the arena bisection runs TFLM many times)."""
        macs = count_macs(flatbuffer)
        latency = estimate_latency(macs)
        return cls(len(flatbuffer), macs, min_arena_size(flatbuffer), round(latency.esp32_ms, 1), round(latency.esp32s3_ms, 1))


@dataclass
class ModelResult:
    name: str
    ours: bool
    input: str
    fit: str
    cost: ModelCost
    #: ``None`` on a negatives-only set (no ROC without persons).
    auc: float | None
    threshold: float
    accuracy: float
    precision: float
    recall: float
    false_positive_rate: float
    recall_by_size: dict = field(default_factory=dict)
    roc: tuple = field(default=((), ()), repr=False)
    #: Ours only: the model file, and whether it never saw this set's source (leave-one-source-out).
    model: str = ""
    held_out: bool | None = None
    #: Cascades only: share of the regions the screen passed on to the confirmation model.
    confirmed_share: float | None = None


@dataclass
class EvalSet:
    """Regions to score, and the source they come from (``None``: not a known source)."""

    regions: RegionSet
    source: str | None = None


def _open(path: Path) -> TfliteClassifier:
    """LiteRT for speed; TFLM for models LiteRT refuses (e.g. person_detect)."""
    try:
        return TfliteClassifier(path, Backend.LITERT)
    except (RuntimeError, ValueError) as exc:
        logger.info("%s: LiteRT refused it (%s); using TFLM", path.name, str(exc).splitlines()[0][:80])
        return TfliteClassifier(path, Backend.TFLM)


def _rank(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """What a crop fit is judged by: ROC-AUC, or (negatives only) the share of crops kept below ``threshold``."""
    if labels.any() and not labels.all():
        return roc_auc(labels, scores)
    return float(np.mean(scores < threshold))


class ScoreCache:
    """Scores of a model on a batch of crops, kept on disk by content (a peer is scored once per crop set)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None

    def predict(self, clf: TfliteClassifier, crops: np.ndarray) -> np.ndarray:
        if self.folder is None:
            return clf.predict(crops)
        key = hashlib.blake2b(clf.model_bytes, digest_size=8)
        key.update(np.ascontiguousarray(crops).tobytes())
        path = self.folder / f"scores-{key.hexdigest()}.npy"
        if path.exists():
            return np.load(path)
        scores = clf.predict(crops)
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(path, scores)
        return scores


#: Regions a peer's crop fits are compared on (a seeded sample of the set; all of a smaller one).
FIT_SAMPLE = 1500


def best_fit(clf: TfliteClassifier, regions: RegionSet, threshold: float, cache: ScoreCache) -> tuple[CropFit, float]:
    """The crop fit and context a peer does best with on ``regions`` (judged on a sample of them)."""
    index = np.arange(len(regions))
    if len(index) > FIT_SAMPLE:
        index = np.sort(np.random.default_rng(0).choice(index, FIT_SAMPLE, replace=False))
    labels = regions.label_array[index]
    ranked = [(_rank(labels, cache.predict(clf, regions.crops(clf.input_size, fit, ctx, index)), threshold), i)
              for i, (fit, ctx) in enumerate(PEER_FITS)]
    return PEER_FITS[max(ranked)[1]]


def score_model(path: Path, regions: RegionSet, ours: bool, threshold: float, cache: ScoreCache) -> ModelResult:
    """Evaluate one model on ``regions`` (peers: their best crop fit)."""
    clf = _open(path)
    fit, ctx = (CropFit.SQUARE, DEFAULT_CONTEXT) if ours else best_fit(clf, regions, threshold, cache)
    scores = cache.predict(clf, regions.crops(clf.input_size, fit, ctx))
    described = f"{clf.input_size}x{clf.input_size}x{clf.channels} {clf.input_dtype.name}"
    return _result(path.stem, ours, described, f"{fit.value} x{ctx:g}", ModelCost.measure(clf.model_bytes), regions, scores, threshold)


def _result(name: str, ours: bool, described: str, fit: str, cost: ModelCost, regions: RegionSet,
            scores: np.ndarray, threshold: float) -> ModelResult:
    labels = regions.label_array
    op = operating_point(labels, scores, threshold)
    has_roc = bool(labels.any() and not labels.all())
    return ModelResult(
        name=name,
        ours=ours,
        input=described,
        fit=fit,
        cost=cost,
        auc=roc_auc(labels, scores) if has_roc else None,
        threshold=threshold,
        accuracy=op.accuracy,
        precision=op.precision,
        recall=op.recall,
        false_positive_rate=op.false_positive_rate,
        recall_by_size=recall_by_size(labels, scores, regions.height_array, threshold),
        roc=roc_curve(labels, scores)[:2] if has_roc else ((), ()),
    )


def score_cascade(ours: ModelResult, model: Path, confirm: Path, regions: RegionSet) -> ModelResult | None:
    """The node's cascade (:func:`models.inference.cascade.open_cascade`, with its defaults) on ``regions``: our model
    screening, ``confirm`` judging what passes. ``None`` if ``model`` records no screen threshold."""
    try:
        cascade = open_cascade(_open(model), model, confirm, Backend.LITERT.value)
    except ValueError as exc:
        logger.warning("no cascade figures: %s", exc)
        return None
    scores = cascade.predict(regions.crops(cascade.screen.input_size), lambda size, index: regions.crops(size, index=index))
    cost_a, cost_b = ours.cost, ModelCost.measure(cascade.confirm.model_bytes)
    share = cascade.confirmed / max(len(regions), 1)
    # Flash and arena: both resident at once. MACs and latency: per region, the screen plus the share confirmed.
    cost = ModelCost(
        cost_a.flash_bytes + cost_b.flash_bytes,
        round(cost_a.macs + share * cost_b.macs),
        cost_a.arena_bytes + cost_b.arena_bytes,
        round(cost_a.esp32_ms + share * cost_b.esp32_ms, 1),
        round(cost_a.esp32s3_ms + share * cost_b.esp32s3_ms, 1),
    )
    name = f"cascade: {ours.name} >= {cascade.screen_threshold:.3f}, then {confirm.stem}"
    result = _result(name, True, f"{ours.input} + {confirm.stem}", f"square x{DEFAULT_CONTEXT:g}", cost, regions,
                     scores, cascade.threshold)
    result.confirmed_share = share
    return result


def held_out_model(models: list[Path], source: str | None) -> tuple[Path, bool | None]:
    """The first of ``models`` that never saw ``source`` (leave-one-source-out), and whether one did not.

    A model without a training record counts as unknown (``None``); with no
    held-out model the first one is used and marked ``False``.
    """
    if source is None:
        return models[0], None
    for model in models:
        seen = trained_sources(model)
        if seen is not None and source not in seen:
            return model, True
    return models[0], None if trained_sources(models[0]) is None else False


def evaluate(
    models: list[Path],
    region_sets: dict[str, EvalSet],
    peers: list[Path],
    out_dir: Path,
    threshold: float | None = None,
    confirm: Path | None = None,
    cache_dir: Path | None = None,
) -> dict:
    """Evaluate our model (per set, one that never saw its source) and ``peers`` on every set.

    Our operating threshold is the chosen model's own (``threshold`` overrides
    it): picked on that model's validation data, so without the evaluated
    source too. With ``confirm``, the cascade (ours screening, ``confirm``
    judging what passes) is scored too. Writes ``evaluation.json``,
    ``evaluation.md`` and one ROC PNG per set. ``cache_dir`` keeps every
    model's scores by content, so a re-run scores only what changed.
    """
    cache = ScoreCache(cache_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"models": [str(m) for m in models], "sets": {}}
    for set_name, item in region_sets.items():
        model, held_out = held_out_model([Path(m) for m in models], item.source)
        thr = threshold if threshold is not None else operating_threshold(model)
        jobs = [(model, True, thr)] + [(Path(p), False, FALLBACK_THRESHOLD) for p in peers]
        results = [score_model(p, item.regions, ours, t, cache) for p, ours, t in tqdm(jobs, desc=f"evaluate {set_name}", unit="model")]
        results[0].model, results[0].held_out = str(model), held_out
        cascade = score_cascade(results[0], model, Path(confirm), item.regions) if confirm else None
        if cascade is not None:
            cascade.model, cascade.held_out = str(model), held_out
        entry = {
            "source": item.source,
            "regions": len(item.regions),
            "persons": int(item.regions.label_array.sum()),
            "results": [{k: v for k, v in asdict(r).items() if k != "roc"} for r in results],
            "verdict": verdict(results),
        }
        if cascade is not None:
            entry["cascade"] = {k: v for k, v in asdict(cascade).items() if k != "roc"}
            entry["cascade_verdict"] = verdict([cascade, *results[1:]])
            results.append(cascade)
        if results[0].auc is not None:
            plot = out_dir / f"roc_{set_name}.png"
            _plot_roc(results, set_name, plot)
            entry["roc_plot"] = plot.name
        report["sets"][set_name] = entry
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    (out_dir / "evaluation.md").write_text(markdown_report(report))
    return report


def verdict(results: list[ModelResult]) -> dict:
    """Is ours at least as good as the best peer: ROC-AUC, or on a negatives-only set the false-positive rate?"""
    ours = next(r for r in results if r.ours)
    peers = [r for r in results if not r.ours]
    if not peers:
        return {"best_peer": None}
    if ours.auc is None:
        best = min(peers, key=lambda r: r.false_positive_rate)
        return {
            "best_peer": best.name,
            "fpr_delta": ours.false_positive_rate - best.false_positive_rate,
            "passed": ours.false_positive_rate <= best.false_positive_rate,
        }
    best = max(peers, key=lambda r: r.auc)
    return {
        "best_peer": best.name,
        "auc_delta": ours.auc - best.auc,
        "macs_ratio": ours.cost.macs / best.cost.macs,
        "flash_ratio": ours.cost.flash_bytes / best.cost.flash_bytes,
        "passed": ours.auc >= best.auc,
    }


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _passed(v: dict) -> str:
    return "-" if v.get("best_peer") is None else ("yes" if v["passed"] else "NO")


def _cascade_cells(s: dict) -> str:
    c = s.get("cascade")
    if c is None:
        return " - | - |"
    return f" {_fmt(c['auc'])} / {c['false_positive_rate']:.3f}, {c['confirmed_share']:.3f} | {_passed(s['cascade_verdict'])} |"


def summary_table(report: dict) -> list[str]:
    """One row per set: ours (the held-out model) against every peer."""
    sets = report["sets"]
    peer_names = sorted({r["name"] for s in sets.values() for r in s["results"] if not r["ours"]})
    cascades = any("cascade" in s for s in sets.values())
    lines = [
        "| source | regions (persons) | ours: model | ours ROC-AUC | ours recall / FPR @ thr | "
        + "".join(f"{p} ROC-AUC (FPR @0.5) | " for p in peer_names)
        + "best peer | ours >= best peer |" + (" cascade ROC-AUC / FPR, share of regions confirmed | cascade >= best peer |" if cascades else ""),
        "|" + "---|" * (7 + len(peer_names) + 2 * cascades),
    ]
    for name, s in sets.items():
        ours = next(r for r in s["results"] if r["ours"])
        peers = {r["name"]: r for r in s["results"] if not r["ours"]}
        seen = {True: "held out", False: "TRAINED ON IT", None: "source unknown"}[ours["held_out"]]
        cells = [f"{_fmt(peers[p]['auc'])} ({peers[p]['false_positive_rate']:.3f})" if p in peers else "-" for p in peer_names]
        v = s["verdict"]
        lines.append(
            f"| {name} | {s['regions']} ({s['persons']}) | `{Path(ours['model']).parent.name}` ({seen}) | "
            f"{_fmt(ours['auc'])} | {ours['recall']:.3f} / {ours['false_positive_rate']:.3f} @ {ours['threshold']:.3f} | "
            + "".join(f"{c} | " for c in cells)
            + f"{v.get('best_peer') or '-'} | {_passed(v)} |"
            + (_cascade_cells(s) if cascades else "")
        )
    return lines


def markdown_report(report: dict) -> str:
    """The cross-source summary, then each set's side-by-side table."""
    lines = ["# Person-crop classifier vs peers, across sources\n", *summary_table(report), ""]
    lines.append(
        "Ours on each source is the first given model that never saw it (leave-one-source-out: not trained on, not "
        "used for the epoch or the threshold; \"TRAINED ON IT\" where none was given); its threshold is its own, "
        "picked on its validation data. A cascade screens at the model's recall-0.98 threshold and confirms at the mean "
        "of both scores >= the model's threshold; its MACs and latency are per region (screen + the confirmed share), "
        "its flash and arena both models'. On a negatives-only source "
        "(no persons) the figure is the false-positive rate at the operating threshold (peers: 0.5).\n"
    )
    for set_name, s in report["sets"].items():
        lines.append(f"## {set_name}: {s['regions']} regions, {s['persons']} persons\n")
        buckets = list(s["results"][0]["recall_by_size"])
        lines.append(
            "| model | input | crop fit | ROC-AUC | acc | precision | recall | FPR | thr | "
            + " | ".join(f"recall {b}" for b in buckets)
            + " | MACs | flash KB | arena KB | ESP32 ms | S3 ms |"
        )
        lines.append("|" + "---|" * (14 + len(buckets)))
        for r in sorted(s["results"], key=lambda r: (-(r["auc"] or 0), r["false_positive_rate"])):
            c = r["cost"]
            size_cells = " | ".join("-" if v is None else f"{v:.3f}" for v in r["recall_by_size"].values())
            name = f"**{r['name']} (ours)**" if r["ours"] else r["name"]
            lines.append(
                f"| {name} | {r['input']} | {r['fit']} | {_fmt(r['auc'])} | {r['accuracy']:.3f} | {r['precision']:.3f} | "
                f"{r['recall']:.3f} | {r['false_positive_rate']:.3f} | {r['threshold']:.3f} | {size_cells} | "
                f"{c['macs'] / 1e6:.2f} M | {c['flash_bytes'] / 1024:.1f} | {c['arena_bytes'] / 1024:.1f} | {c['esp32_ms']:.0f} | {c['esp32s3_ms']:.1f} |"
            )
        if "roc_plot" in s:
            lines.append(f"\n![ROC {set_name}]({s['roc_plot']})\n")
    lines.append(
        "Peers get each crop fit (square kept inside the frame, stretch, letterbox) at context 1.0 and 1.25 "
        "and keep their best; ours gets only the node's square crop at context 1.25. Peers' threshold is 0.5. "
        "Latency is estimated from MACs (see the model card)."
    )
    return "\n".join(lines) + "\n"


def _plot_roc(results: list[ModelResult], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for r in sorted(results, key=lambda r: -r.auc):
        ax.plot(*r.roc, lw=2.5 if r.ours else 1.2, label=f"{r.name}{' (ours)' if r.ours else ''}: AUC {r.auc:.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title=f"ROC on {title}", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
