"""Measurements taken from a .tflite flatbuffer: MACs and minimum TFLM arena.

MACs are counted per operator from tensor shapes (conv, depthwise conv,
fully connected, transpose conv); element-wise ops and pooling are ignored,
as in the published figures. The arena is the smallest size, found by
bisection, at which the real TFLM interpreter allocates and invokes. A probe
can crash TFLM (a short arena), so each runs in a forked child — of a helper
process (``python -m models.inference.measure``), never of the caller: a node
or the demo has MQTT threads running (a fork of a threaded process can
deadlock), and a Ctrl-C or SIGTERM handled in the fork's own callbacks is lost.
"""
from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: Published calibration point (Espressif esp-tflite-micro README): the TFLM
#: person_detect model, 7.16 M MACs, invoke() with ESP-NN kernels.
CALIBRATION = {
    "model": "TFLM person_detect (96x96x1 int8)",
    "macs": 7_160_000,
    "esp32_ms": 380.0,
    "esp32s3_ms": 54.0,
    "source": "Espressif esp-tflite-micro README (person_detection, ESP-NN optimised kernels)",
}


@dataclass(frozen=True)
class LatencyEstimate:
    esp32_ms: float
    esp32s3_ms: float


def estimate_latency(macs: int) -> LatencyEstimate:
    """ESP32 / ESP32-S3 invoke() time scaled linearly in MACs from :data:`CALIBRATION`."""
    ratio = macs / CALIBRATION["macs"]
    return LatencyEstimate(CALIBRATION["esp32_ms"] * ratio, CALIBRATION["esp32s3_ms"] * ratio)


def count_macs(model: bytes) -> int:
    """Multiply-accumulates of one inference of the first subgraph."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    ops = schema.BuiltinOperator
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    g = m.subgraphs[0]
    shape = lambda t: [int(v) for v in g.tensors[t].shape]
    total = 0
    for op in g.operators:
        code = codes[op.opcodeIndex]
        if code not in (ops.CONV_2D, ops.DEPTHWISE_CONV_2D, ops.FULLY_CONNECTED, ops.TRANSPOSE_CONV):
            continue
        if code == ops.TRANSPOSE_CONV:
            w = shape(op.inputs[1])
            total += int(np.prod(shape(op.inputs[2]))) * int(np.prod(w[:3]))
            continue
        out, w = shape(op.outputs[0]), shape(op.inputs[1])
        out_elems = int(np.prod(out))
        if code == ops.CONV_2D:  # weights [O, kh, kw, I]
            total += out_elems * w[1] * w[2] * w[3]
        elif code == ops.DEPTHWISE_CONV_2D:  # weights [1, kh, kw, O]
            total += out_elems * w[1] * w[2]
        else:  # FULLY_CONNECTED weights [O, I]
            total += out_elems * w[1]
    return total


def _fits(model: bytes, arena: int) -> bool:
    """Allocate and invoke in a forked child: TFLM can crash, not just fail, on a short arena."""
    from tflite_micro.python.tflite_micro import runtime

    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            it = runtime.Interpreter.from_bytes(model, arena_size=arena)
            inp = it.get_input_details(0)
            it.set_input(np.zeros(inp["shape"], dtype=inp["dtype"]), 0)
            it.invoke()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@functools.lru_cache(maxsize=8)
def min_arena_size(model: bytes, granularity: int = 16, upper: int = 4 * 1024 * 1024) -> int:
    """Smallest TFLM tensor arena (bytes, rounded up to ``granularity``) that runs the model, measured once per
    model and process, in a helper process (see the module docstring).

    Measured in the host build of TFLM (64-bit pointers), which slightly
    overestimates the 32-bit MCU's persistent allocations.
    """
    # the helper's stderr (and its probes': the interpreter's allocation-failure chatter) is kept from the caller's
    done = subprocess.run([sys.executable, "-m", __name__, str(granularity), str(upper)], input=model, capture_output=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"arena measurement failed (exit {done.returncode})")
    return int(done.stdout)


def _bisect_arena(model: bytes, granularity: int, upper: int) -> int:
    hi = 8 * 1024
    while not _fits(model, hi):
        hi *= 2
        if hi > upper:
            raise RuntimeError(f"model does not fit a {upper} B arena")
    lo = hi // 2 if hi > 8 * 1024 else 0
    while hi - lo > granularity:
        mid = (lo + hi) // 2
        if _fits(model, mid):
            hi = mid
        else:
            lo = mid
    return int(-(-hi // granularity) * granularity)


if __name__ == "__main__":  # the helper: model on stdin, granularity and upper bound as arguments, the size on stdout
    print(_bisect_arena(sys.stdin.buffer.read(), int(sys.argv[1]), int(sys.argv[2])))
