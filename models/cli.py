"""``smartcam model ...`` (also ``python -m models ...``): train, evaluate, predict, export, adapt."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from models import SHIPPED_DIR, SHIPPED_MODEL
from models.config import ConfigError, default_data_root
from models.data.sources import SOURCES
from models.inference import Backend

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "model_train.yaml"


class CommandError(RuntimeError):
    """A command that cannot run with what it was given (exit status 1)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``model`` command group to a parent parser."""
    add_commands(sub.add_parser("model", help="train, evaluate, export and run the person-crop classifier"))


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add train / evaluate / predict / export / adapt to ``parser``."""
    cmds = parser.add_subparsers(dest="model_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("train", help="train, pick the best epoch, quantise to int8")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training YAML (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default: %(default)s)")
    p.add_argument("--cache", type=Path, default=Path("runs/cache"), help="crop cache folder (default: %(default)s)")
    p.add_argument("--epochs", type=int, help="override the config's epochs")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--folder", action="append", default=[], metavar="[SOURCE=]DIR",
                   help="add a labelled folder (labels.csv inside) to the training data, e.g. crops from "
                        "`smartcam node simulate --dump-crops`; SOURCE= names the source they were cut from "
                        "(distractors=runs/mined/overhead), so they leave with it (--leave-out); repeatable")
    p.add_argument("--leave-out", metavar="SOURCE", action="append", default=[],
                   help="drop every training and validation path of this source (a leave-one-source-out fold "
                        "for `model evaluate`): " + ", ".join(s.name for s in SOURCES) + "; repeatable")
    p.set_defaults(func=_train)

    p = cmds.add_parser("evaluate", help="cross-source table: ROC-AUC and operating point vs the peer models, leave-one-source-out")
    p.add_argument("--model", type=Path, action="append", metavar="TFLITE",
                   help="our model; repeat for leave-one-source-out folds (`model train --leave-out`): each source is "
                        "scored with the first model whose training.json shows it never saw that source "
                        "(default: the shipped model)")
    p.add_argument("--threshold", type=float, help="operating threshold (default: each model's own)")
    p.add_argument("--confirm", type=Path, metavar="TFLITE",
                   help="also score the cascade: ours screening every region at its recorded screen_threshold, this "
                        "model confirming what passes (e.g. DATA/../peers/mlperf_tiny_vww_96_int8.tflite)")
    p.add_argument("--sources", nargs="*", metavar="SOURCE",
                   help="sources to evaluate: " + ", ".join(s.name for s in SOURCES) + " (default: all)")
    p.add_argument("--crops", type=Path, nargs="*", default=[], help="also: folders of labelled crops (labels.csv: image,label)")
    p.add_argument("--peers", type=Path, help="folder of peer .tflite models (default: DATA/../peers)")
    p.add_argument("--no-peers", action="store_true", help="evaluate only our model")
    p.add_argument("--negatives-per-frame", type=int, default=4, help="hard box-free squares per frame (default: %(default)s)")
    p.add_argument("--data", type=Path, default=default_data_root(), help="data root (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("runs/evaluate"), help="output folder (default: %(default)s)")
    p.add_argument("--cache", type=Path, default=Path("runs/cache/scores"),
                   help="scores of each model on each crop set, by content: re-runs score only what changed (default: %(default)s)")
    p.set_defaults(func=_evaluate)

    p = cmds.add_parser("calibrate-cascade", help="record the cascade's confirmation threshold, picked on the model's validation data")
    p.add_argument("--model", type=Path, required=True, help="screening model (training.json beside it)")
    p.add_argument("--confirm", type=Path, required=True, help="confirmation model .tflite")
    p.add_argument("--cache", type=Path, default=Path("runs/cache"), help="crop cache folder (default: %(default)s)")
    p.set_defaults(func=_calibrate_cascade)

    p = cmds.add_parser("predict", help="score every image in a folder: image,score CSV")
    p.add_argument("--images", type=Path, required=True, help="folder of image files (any size)")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="model (default: the shipped one)")
    p.add_argument("--out", type=Path, default=Path("scores.csv"), help="CSV to write (default: %(default)s)")
    p.add_argument("--backend", choices=[b.value for b in Backend], default=Backend.TFLM.value, help="interpreter (default: %(default)s)")
    p.add_argument("--confirm", type=Path, metavar="TFLITE",
                   help="score as the node's cascade does (detector.confirm_model): the model screens at its recorded "
                        "screen_threshold, this model confirms what passes")
    p.add_argument("--confirm-threshold", type=float,
                   help="cascade: a passed image is a person when the mean of both scores is at least this "
                        "(default: the model's operating threshold)")
    p.set_defaults(func=_predict)

    p = cmds.add_parser("export", help="write .tflite, C array + header and model card")
    p.add_argument("--model", type=Path, required=True, help="trained int8 .tflite")
    p.add_argument("--training", type=Path, help="training.json (default: beside the model)")
    p.add_argument("--evaluation", type=Path, help="evaluation.json to include in the card")
    p.add_argument("--out", type=Path, default=SHIPPED_DIR, help="output folder (default: %(default)s)")
    p.set_defaults(func=_export)

    p = cmds.add_parser("adapt", help="fewer false alarms on one site, from person-free footage of it")
    p.add_argument("--footage", type=Path, required=True, help="person-free video or folder of frames from the site, or the node's own crops of it "
                        "(`smartcam node simulate --dump-crops DIR`)")
    p.add_argument("--mode", choices=["threshold", "finetune"], default="threshold", help="(default: %(default)s)")
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="model to adapt (default: the shipped one)")
    p.add_argument("--target-fpr", type=float, default=0.005, help="threshold mode: allowed share of site crops (default: %(default)s)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="finetune mode: training YAML (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=3, help="finetune mode: epochs (default: %(default)s)")
    p.add_argument("--cache", type=Path, default=Path("runs/cache"), help="finetune mode: crop cache (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("runs/site"), help="output folder (default: %(default)s)")
    p.set_defaults(func=_adapt)


def _train(args: argparse.Namespace) -> int:
    from models.config import FolderSource, load_train_config
    from models.data.sources import leave_out, source_named
    from models.train import train

    cfg = load_train_config(args.config, epochs=args.epochs, max_steps=args.max_steps, seed=args.seed)
    for spec in args.folder:
        source, _, folder = spec.rpartition("=")
        if source:
            source_named(source)  # an unknown name is an error, not a silent leak
        cfg.train.folders.append(FolderSource(folder=Path(folder).resolve(), source=source or None))
    for name in args.leave_out:
        source = source_named(name)
        cfg.train = leave_out(cfg.train, source, cfg.data_root)
        cfg.validation = leave_out(cfg.validation, source, cfg.data_root)
    report = train(cfg, args.out, args.cache)
    print(
        f"val AUC float {report['val_auc_float']:.4f} int8 {report['val_auc_int8']:.4f}; "
        f"threshold {report['threshold']:.3f}; model {args.out / report['model_file']}"
    )
    return 0


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CommandError(f"{what} not found: {path} (set --data or ${'SMARTCAM_DATA'})")
    return path


def _evaluate(args: argparse.Namespace) -> int:
    from models.data.labelled_folder import iter_labelled_folder
    from models.data.regions import RegionSet
    from models.data.sources import source_named, source_regions
    from models.evaluate import EvalSet, evaluate

    names = args.sources if args.sources is not None else [s.name for s in SOURCES]
    sets: dict[str, EvalSet] = {}
    for name in names:
        source = source_named(name)
        for path in source.evaluated:
            _require(args.data / path, f"{source.name} data")
        sets[source.name] = EvalSet(source_regions(source, args.data, args.negatives_per_frame), source.name)
    for folder in args.crops:
        regions = RegionSet()
        for item in iter_labelled_folder(folder):
            regions.add_whole_image(item.key, item.image, item.label)
        sets[folder.name] = EvalSet(regions)
    if not sets:
        raise CommandError("nothing to evaluate: give --sources or --crops")
    peers_dir = args.peers or args.data.parent / "peers"
    peers = [] if args.no_peers else sorted(_require(peers_dir, "peer model folder").glob("*.tflite"))
    models = [_require(m, "model") for m in (args.model or [SHIPPED_MODEL])]
    confirm = _require(args.confirm, "confirmation model") if args.confirm else None
    report = evaluate(models, sets, peers, args.out, args.threshold, confirm, args.cache)
    for name, s in report["sets"].items():
        ours = next(r for r in s["results"] if r["ours"])
        figure = f"AUC {ours['auc']:.4f}" if ours["auc"] is not None else f"FPR {ours['false_positive_rate']:.4f}"
        print(f"{name}: ours ({Path(ours['model']).parent.name}, held out: {ours['held_out']}) {figure}; "
              f"verdict {json.dumps(s['verdict'])}")
    print(f"table: {args.out / 'evaluation.md'}")
    return 0


def _calibrate_cascade(args: argparse.Namespace) -> int:
    from models.calibrate import calibrate_cascade

    entry = calibrate_cascade(_require(args.model, "model"), _require(args.confirm, "confirmation model"), args.cache)
    print(f"confirm at mean score >= {entry['confirm_threshold']:.3f}: validation recall {entry['val_recall']:.3f}, "
          f"false-positive rate {entry['val_false_positive_rate']:.3f}, {entry['val_confirmed_share']:.1%} of crops confirmed")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from models.predict import score_images, write_scores

    if not args.images.is_dir():
        raise CommandError(f"--images must be a folder: {args.images}")
    confirm = _require(args.confirm, "confirmation model") if args.confirm else None
    results = score_images(args.images, _require(args.model, "model"), Backend(args.backend), confirm, args.confirm_threshold)
    write_scores(results, args.out)
    failed = [r for r in results if r.score is None]
    for r in failed:
        print(f"error: {r.image}: {r.error}", file=sys.stderr)
    padded = sum(r.fit.startswith("not square") for r in results)
    if padded:
        print(f"{padded} images are not square: each was padded to square by repeating its edge pixels "
              "(the node's crop of a region at the frame border); the 'fit' column says which")
    print(f"scored {len(results) - len(failed)} images -> {args.out}; {len(failed)} could not be read")
    return 1 if failed else 0


def _export(args: argparse.Namespace) -> int:
    from models.export import export

    training_path = args.training or args.model.parent / "training.json"
    training = json.loads(training_path.read_text()) if training_path.exists() else None
    evaluation = json.loads(args.evaluation.read_text()) if args.evaluation else None
    card = export(_require(args.model, "model"), args.out, training, evaluation)
    ok = all(b["ok"] for b in card["budgets"].values())
    print(f"exported to {args.out}: {card['cost']['flash_bytes']} B, arena {card['firmware_arena_bytes']} B, "
          f"{card['cost']['macs'] / 1e6:.2f} M MACs; budgets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def _adapt(args: argparse.Namespace) -> int:
    from models.adapt import calibrate_threshold, finetune, site_crops, site_fpr, split_in_time
    from models.inference import TfliteClassifier
    from models.inference.model_info import operating_threshold

    model = _require(args.model, "model")
    size = TfliteClassifier(model).input_size
    fit_crops, held_out = split_in_time(site_crops(_require(args.footage, "footage"), size))
    base = operating_threshold(model)
    if args.mode == "threshold":
        report = calibrate_threshold(model, base, fit_crops, held_out, args.target_fpr)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "site.json").write_text(json.dumps(report, indent=2))
    else:
        float_model = _require(model.parent / "float_model.keras", "float model beside the .tflite")
        before = site_fpr(model, base, held_out)
        report = finetune(float_model, args.config, fit_crops, held_out, args.out, args.cache, args.epochs)
        report["site_fpr_before"] = before
        (args.out / "site.json").write_text(json.dumps(report, indent=2))
    print(f"site false-positive rate on held-out footage: {report['site_fpr_before']:.4f} -> {report['site_fpr_after']:.4f}; "
          f"threshold {report['threshold']:.3f}; {args.out / 'site.json'}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``model`` command; errors become a message and exit status 1."""
    try:
        return args.func(args)
    except (CommandError, ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m models``."""
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    add_commands(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)
