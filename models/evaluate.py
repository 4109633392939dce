"""Score our model and every peer model on the same labelled regions, side by side.

Each model gets the regions at its own input size, channels and
quantisation; peers are tried with every crop fit and context and keep their
best, ours is fed only the crop the node makes. Writes ``evaluation.json``,
``evaluation.md`` (table) and one ROC plot PNG per region set.
"""
from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from models.data.regions import RegionSet
from models.inference import Backend, CropFit, TfliteClassifier
from models.inference.measure import count_macs, estimate_latency, min_arena_size
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
    def measure(cls, flatbuffer: bytes) -> ModelCost:
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
    auc: float
    threshold: float
    accuracy: float
    precision: float
    recall: float
    false_positive_rate: float
    recall_by_size: dict = field(default_factory=dict)
    roc: tuple = field(default=((), ()), repr=False)


def _open(path: Path) -> TfliteClassifier:
    """LiteRT for speed; TFLM for models LiteRT refuses (e.g. person_detect)."""
    try:
        return TfliteClassifier(path, Backend.LITERT)
    except (RuntimeError, ValueError) as exc:
        logger.info("%s: LiteRT refused it (%s); using TFLM", path.name, str(exc).splitlines()[0][:80])
        return TfliteClassifier(path, Backend.TFLM)


def score_model(path: Path, regions: RegionSet, ours: bool, threshold: float) -> ModelResult:
    """Evaluate one model on ``regions`` (peers: best of every crop fit)."""
    clf = _open(path)
    labels = regions.label_array
    fits = [(CropFit.SQUARE, DEFAULT_CONTEXT)] if ours else PEER_FITS
    best = None
    for fit, ctx in fits:
        scores = clf.predict(regions.crops(clf.input_size, fit, ctx))
        auc = roc_auc(labels, scores)
        if best is None or auc > best[0]:
            best = (auc, scores, f"{fit.value} x{ctx:g}")
    auc, scores, fit_name = best
    op = operating_point(labels, scores, threshold)
    fpr, tpr, _ = roc_curve(labels, scores)
    return ModelResult(
        name=path.stem,
        ours=ours,
        input=f"{clf.input_size}x{clf.input_size}x{clf.channels} {clf.input_dtype.name}",
        fit=fit_name,
        cost=ModelCost.measure(clf.model_bytes),
        auc=auc,
        threshold=threshold,
        accuracy=op.accuracy,
        precision=op.precision,
        recall=op.recall,
        false_positive_rate=op.false_positive_rate,
        recall_by_size=recall_by_size(labels, scores, regions.height_array, threshold),
        roc=(fpr, tpr),
    )


def evaluate(
    model: Path,
    threshold: float,
    region_sets: dict[str, RegionSet],
    peers: list[Path],
    out_dir: Path,
) -> dict:
    """Evaluate ``model`` and ``peers`` on every region set; write JSON, Markdown and ROC PNGs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"model": str(model), "sets": {}}
    for set_name, regions in region_sets.items():
        jobs = [(Path(model), True, threshold)] + [(Path(p), False, 0.5) for p in peers]
        results = [score_model(p, regions, ours, thr) for p, ours, thr in tqdm(jobs, desc=f"evaluate {set_name}", unit="model")]
        plot = out_dir / f"roc_{set_name}.png"
        _plot_roc(results, set_name, plot)
        report["sets"][set_name] = {
            "regions": len(regions),
            "persons": int(regions.label_array.sum()),
            "roc_plot": plot.name,
            "results": [{k: v for k, v in asdict(r).items() if k != "roc"} for r in results],
            "verdict": verdict(results),
        }
    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    (out_dir / "evaluation.md").write_text(markdown_report(report))
    return report


def verdict(results: list[ModelResult]) -> dict:
    """Is our AUC at least the best peer's, at <= half its MACs and flash?"""
    ours = next(r for r in results if r.ours)
    peers = [r for r in results if not r.ours]
    if not peers:
        return {"best_peer": None}
    best = max(peers, key=lambda r: r.auc)
    return {
        "best_peer": best.name,
        "auc_delta": ours.auc - best.auc,
        "macs_ratio": ours.cost.macs / best.cost.macs,
        "flash_ratio": ours.cost.flash_bytes / best.cost.flash_bytes,
        "passed": ours.auc >= best.auc
        and ours.cost.macs <= best.cost.macs / 2
        and ours.cost.flash_bytes <= best.cost.flash_bytes / 2,
    }


def markdown_report(report: dict) -> str:
    """The side-by-side table(s) of an evaluation report."""
    lines = [f"# Person-crop classifier vs peers\n\nModel: `{report['model']}`\n"]
    for set_name, s in report["sets"].items():
        lines.append(f"## {set_name}: {s['regions']} regions, {s['persons']} persons\n")
        buckets = list(s["results"][0]["recall_by_size"])
        lines.append(
            "| model | input | crop fit | ROC-AUC | acc | precision | recall | FPR | thr | "
            + " | ".join(f"recall {b}" for b in buckets)
            + " | MACs | flash KB | arena KB | ESP32 ms | S3 ms |"
        )
        lines.append("|" + "---|" * (14 + len(buckets)))
        for r in sorted(s["results"], key=lambda r: -r["auc"]):
            c = r["cost"]
            size_cells = " | ".join("-" if v is None else f"{v:.3f}" for v in r["recall_by_size"].values())
            name = f"**{r['name']} (ours)**" if r["ours"] else r["name"]
            lines.append(
                f"| {name} | {r['input']} | {r['fit']} | {r['auc']:.4f} | {r['accuracy']:.3f} | {r['precision']:.3f} | "
                f"{r['recall']:.3f} | {r['false_positive_rate']:.3f} | {r['threshold']:.3f} | {size_cells} | "
                f"{c['macs'] / 1e6:.2f} M | {c['flash_bytes'] / 1024:.1f} | {c['arena_bytes'] / 1024:.1f} | {c['esp32_ms']:.0f} | {c['esp32s3_ms']:.1f} |"
            )
        v = s["verdict"]
        if v.get("best_peer"):
            lines.append(
                f"\nBest peer: {v['best_peer']}; ours: AUC {v['auc_delta']:+.4f}, MACs x{v['macs_ratio']:.2f}, "
                f"flash x{v['flash_ratio']:.2f} -> {'PASS' if v['passed'] else 'FAIL'} "
                "(needs AUC >= best peer at <= 0.5x its MACs and flash)."
            )
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
