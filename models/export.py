"""Package a trained model for the node and for firmware.

Writes, next to each other: the ``.tflite``; a C source + header holding the
same bytes (16-byte aligned), their length, the tensor arena size measured
in the real TFLM interpreter and the ops to register; and the model card
(Markdown + JSON) with data attribution, metrics, size, arena, MACs and
latency estimates.
"""
from __future__ import annotations

import json
import logging
import shutil
from datetime import date
from pathlib import Path

from models.evaluate import ModelCost
from models.inference.measure import CALIBRATION
from models.inference.model_info import CARD_FILE

logger = logging.getLogger(__name__)

#: Budgets of the ESP32-CAM target (issue: foundation and the tiny person detector).
BUDGETS = {"flash_bytes": 150 * 1024, "arena_bytes": 96 * 1024, "macs": 3_600_000}
FLASH_STRETCH = 64 * 1024
#: Arena rounding for firmware: the host build measures with 64-bit pointers.
ARENA_ROUND = 1024
SYMBOL = "g_person_detector_model_data"

ATTRIBUTION = [
    {
        "dataset": "Capston2",
        "use": "training and validation (person boxes; negatives from box-free regions)",
        "source": "siwookim / capston2, Roboflow Universe (version 11)",
        "licence": "CC BY 4.0",
    },
    {
        "dataset": "cctv_clinic (ceiling CCTV of a waiting room)",
        "use": "training and validation, split by source frame (person boxes; negatives from box-free regions)",
        "source": "ai-indonesia / cctv-vh5b6, Roboflow Universe (version 2)",
        "licence": "CC BY 4.0",
    },
    {
        "dataset": "bgslibrary sample traffic videos",
        "use": "hard negatives (moving cars, no people): frame-difference regions of the whole videos",
        "source": "bgslibrary repository sample set",
        "licence": "third party, internal testing only",
    },
    {
        "dataset": "MOT15 TUD-Campus, TUD-Stadtmitte",
        "use": "evaluation only (never trained on, never used to pick a model or threshold)",
        "source": "2D MOT 2015 benchmark",
        "licence": "CC BY-NC-SA 3.0",
    },
    {
        "dataset": "bgslibrary traffic videos, the node's own crops (`smartcam node simulate --dump-crops`)",
        "use": "hard negatives: what the node's motion stage sent to the CNN on the whole of each video",
        "source": "bgslibrary repository sample set",
        "licence": "third party, internal testing only",
    },
    {
        "dataset": "teacher: MLPerf Tiny visual wake words reference model (mlperf_tiny_vww_96_int8)",
        "use": "distillation: one of three teachers whose mean score on every training crop is mixed into the target (not shipped)",
        "source": "mlcommons/tiny",
        "licence": "Apache-2.0",
    },
    {
        "dataset": "teachers: Wake Vision model zoo (wv_quality_mcunet-10fps_vww, wv_quality_micronets_vww4_128_128_INT8)",
        "use": "distillation, as above (not shipped); trained on the Wake Vision dataset",
        "source": "harvard-edge/Wake_Vision",
        "licence": "CC BY 4.0 / Apache-2.0",
    },
]

#: How the shipped model is made again (configs/model_train.yaml holds the recipe, seed included).
REPRODUCE = """\
# The node's own crops of each person-free video, mined twice: with the previously shipped model (runs/mined-prev)
# and with a first distilled model (runs/mined: --config pointing detector.model at it); which regions reach the CNN
# depends on the model.
D=../shared/data/distractors
for v in traffic_overhead traffic_suburban; do
  smartcam node simulate --source $D/$v.avi --dump-crops runs/mined-prev/$v --out runs/mine/$v
done
M=""; for m in mined mined-prev; do for v in traffic_overhead traffic_suburban; do M="$M --folder distractors=runs/$m/$v"; done; done
smartcam model train $M --out runs/ship          # configs/model_train.yaml; teacher scores cached in runs/cache
for s in cctv_clinic capston2-test distractors; do  # leave-one-source-out folds for the table
  smartcam model train $M --leave-out $s --out runs/fold-$s
done
smartcam model calibrate-cascade --model runs/ship/person_detector.tflite --confirm ../shared/peers/mlperf_tiny_vww_96_int8.tflite
for s in cctv_clinic capston2-test distractors; do
  smartcam model calibrate-cascade --model runs/fold-$s/person_detector.tflite --confirm ../shared/peers/mlperf_tiny_vww_96_int8.tflite
done
smartcam model evaluate --model runs/ship/person_detector.tflite --model runs/fold-*/person_detector.tflite \\
  --confirm ../shared/peers/mlperf_tiny_vww_96_int8.tflite --out runs/eval
smartcam model export --model runs/ship/person_detector.tflite --evaluation runs/eval/evaluation.json"""


def op_names(flatbuffer: bytes) -> list[str]:
    """Builtin operator names the model uses (what a MicroMutableOpResolver must add)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    by_code = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return sorted({by_code[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in m.operatorCodes})


def c_source(flatbuffer: bytes, header_name: str) -> str:
    """The model as an aligned C array (12 bytes a line)."""
    rows = [
        "  " + ", ".join(f"0x{b:02x}" for b in flatbuffer[i : i + 12]) + ","
        for i in range(0, len(flatbuffer), 12)
    ]
    return (
        f'// Generated by `smartcam model export`. Do not edit.\n#include "{header_name}"\n\n'
        f"alignas(16) const unsigned char {SYMBOL}[] = {{\n" + "\n".join(rows) + "\n};\n"
        f"const unsigned int {SYMBOL}_len = {len(flatbuffer)};\n"
    )


def c_header(cost: ModelCost, arena: int, input_size: int, threshold: float, ops: list[str]) -> str:
    """Declarations and the numbers firmware needs to run the model."""
    threshold_q = max(-128, min(127, round(threshold * 256) - 128))
    resolver = "\n".join(f"//   resolver.Add{_camel(op)}();" for op in ops)
    return f"""// Generated by `smartcam model export`. Do not edit.
#ifndef SMARTCAM_PERSON_DETECTOR_MODEL_DATA_H_
#define SMARTCAM_PERSON_DETECTOR_MODEL_DATA_H_

extern const unsigned char {SYMBOL}[];
extern const unsigned int {SYMBOL}_len;

// Model bytes: {cost.flash_bytes}. MACs per inference: {cost.macs}.
constexpr int kPersonDetectorModelBytes = {cost.flash_bytes};
// Tensor arena: minimum measured in the TFLM interpreter ({cost.arena_bytes} B,
// host build), rounded up to {ARENA_ROUND} B.
constexpr int kPersonDetectorArenaSize = {arena};
// Input: {input_size}x{input_size}x1 int8, value = grey pixel - 128, square crop
// of the region with 1.25x context, shifted inside the frame where it fits.
constexpr int kPersonDetectorInputSize = {input_size};
// Output: 1 int8 person score, probability = (q + 128) / 256.
constexpr float kPersonDetectorThreshold = {threshold:.6f}f;
constexpr int kPersonDetectorThresholdQ = {threshold_q};
constexpr int kPersonDetectorOpCount = {len(ops)};
// Ops to register, e.g. tflite::MicroMutableOpResolver<{len(ops)}> resolver;
{resolver}

#endif  // SMARTCAM_PERSON_DETECTOR_MODEL_DATA_H_
"""


def _camel(op: str) -> str:
    special = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D"}
    return special.get(op, "".join(p.capitalize() for p in op.split("_")))


def export(model: Path, out_dir: Path, training: dict | None, evaluation: dict | None) -> dict:
    """Write the model, C array, header and model card into ``out_dir``; return the card."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    flatbuffer = Path(model).read_bytes()
    target = out_dir / "person_detector.tflite"
    if Path(model).resolve() != target.resolve():
        shutil.copyfile(model, target)
    cost = ModelCost.measure(flatbuffer)
    arena = -(-cost.arena_bytes // ARENA_ROUND) * ARENA_ROUND
    training = training or {}
    input_size = int(training.get("input_size") or _input_size(flatbuffer))
    threshold = float(training.get("threshold", 0.5))
    ops = op_names(flatbuffer)
    (out_dir / "person_detector_model_data.h").write_text(c_header(cost, arena, input_size, threshold, ops))
    (out_dir / "person_detector_model_data.cc").write_text(c_source(flatbuffer, "person_detector_model_data.h"))
    card = {
        "model_file": target.name,
        "exported": date.today().isoformat(),
        "task": "person / no person on a grayscale region crop (second stage after motion proposals)",
        "input": {"size": input_size, "channels": 1, "dtype": "int8", "encoding": "pixel - 128",
                  "crop": "square around the region, side = 1.25 x max(w, h), shifted inside the frame where it fits"},
        "output": {"dtype": "int8", "meaning": "person probability = (q + 128) / 256"},
        "threshold": threshold,
        "cost": cost.__dict__,
        "firmware_arena_bytes": arena,
        "ops": ops,
        "budgets": {k: {"limit": v, "value": getattr(cost, k), "ok": getattr(cost, k) <= v} for k, v in BUDGETS.items()},
        "flash_stretch_64k_ok": cost.flash_bytes <= FLASH_STRETCH,
        "latency_calibration": CALIBRATION,
        "data": ATTRIBUTION,
        "training": {k: v for k, v in training.items() if k not in ("history", "config")},
        "training_config": training.get("config"),
        "evaluation": evaluation,
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2))
    (out_dir / "MODEL_CARD.md").write_text(card_markdown(card))
    logger.info("exported %s (%d B, arena %d B, %.2f M MACs)", target, cost.flash_bytes, arena, cost.macs / 1e6)
    return card


def _input_size(flatbuffer: bytes) -> int:
    from models.inference import TfliteClassifier

    return TfliteClassifier(flatbuffer).input_size


def card_markdown(card: dict) -> str:
    """The human-readable model card."""
    c, cal = card["cost"], card["latency_calibration"]
    budget_rows = "\n".join(
        f"| {k} | {v['value']:,} | {v['limit']:,} | {'yes' if v['ok'] else 'NO'} |" for k, v in card["budgets"].items()
    )
    data_rows = "\n".join(f"| {d['dataset']} | {d['use']} | {d['source']} | {d['licence']} |" for d in card["data"])
    t = card["training"]
    train_text = (
        f"Trained on {t.get('train_crops', '?'):,} crops ({t.get('train_person_crops', '?'):,} person), "
        f"best epoch {t.get('best_epoch', '?')}, {t.get('seconds', '?')} s on the training machine. "
        f"Validation ROC-AUC float {t.get('val_auc_float', float('nan')):.4f} vs int8 (TFLM) "
        f"{t.get('val_auc_int8', float('nan')):.4f}; largest score difference {t.get('max_abs_score_diff', float('nan')):.3f}. "
        f"Threshold {card['threshold']:.3f} = false-positive rate {t.get('threshold_target_fpr', '?')} on validation negatives"
        + (f"; screen threshold (first stage of a cascade) {t['screen_threshold']:.3f} = recall {t['screen_recall']} "
           "on validation persons" if "screen_threshold" in t else "")
        + f". Sources trained or validated on: {', '.join(t.get('sources') or ['?'])}"
        + (f"; teachers: {', '.join(t['teachers'])}." if t.get("teachers") else ".")
        if "train_crops" in t else "No training report was given to the export."
    )
    eval_text = ""
    if card.get("evaluation"):
        from models.evaluate import markdown_report

        eval_text = markdown_report(card["evaluation"]).split("\n", 1)[1]
    return f"""# Model card: smartcam person-crop classifier

{card['task']}.

- Input: {card['input']['size']}x{card['input']['size']}x1 int8 ({card['input']['encoding']}); {card['input']['crop']}.
- Output: {card['output']['meaning']}; operating threshold {card['threshold']:.3f}.
- Ops: {', '.join(card['ops'])}.

## Cost on the MCU (measured from the shipped .tflite)

| measure | value | budget | within |
|---|---|---|---|
{budget_rows}

Flash stretch goal (<= 64 KB): {'met' if card['flash_stretch_64k_ok'] else 'not met'}.
Minimum tensor arena found by bisection in the real TFLM interpreter: {c['arena_bytes']:,} B
(host build, 64-bit pointers, so a slight overestimate for the 32-bit MCU); the header asks
for {card['firmware_arena_bytes']:,} B.

Estimated invoke() latency: ESP32 {c['esp32_ms']:.0f} ms, ESP32-S3 {c['esp32s3_ms']:.1f} ms.
Calibration: linear in MACs from {cal['model']} ({cal['macs'] / 1e6:.2f} M MACs: {cal['esp32_ms']:.0f} ms on
ESP32, {cal['esp32s3_ms']:.0f} ms on ESP32-S3; {cal['source']}). Depthwise-heavy layers usually run
less efficiently per MAC than person_detect's mix, so treat these as lower bounds, to be confirmed on a board.

## Training

{train_text}

Made by:

```
{REPRODUCE}
```

## Data and attribution

| data | use | source | licence |
|---|---|---|---|
{data_rows}

## Evaluation
{eval_text}
## Limits

- Classifies a crop the motion stage proposes; it does not localise people.
- Trained on grayscale CCTV/office/street imagery; colour is not used. Very small people
  (box height < 16 px in the analysed frame) are outside its training range.
- Capston2 negatives come from regions without a labelled box; unlabelled people there are label noise.
- Learnt from day contrast: under 3% of its training images span less than half the grey range, and people in a
  dark, flat night frame score under the threshold; the node stretches such frames before cutting crops
  (`camera_node/levels.py`).
"""
