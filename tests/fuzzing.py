"""Hypothesis strategies shared by the fuzz tests: hostile JSON, YAML documents, bytes and ids."""
from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Fuzz runs: no deadline (real SQLite and JPEG decoding), no example database, fixtures shared across examples.
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

#: Values that break naive handlers: wrong types, huge and special numbers, traversal and control strings.
NASTY_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 1e-308, 2**63, -(2**63), 10**20]),
    st.text(max_size=40),
    st.sampled_from(["../../etc/passwd", "..", "/", "a/b", "%00", "\x00", "\ud800", "cam1\n", "A" * 5000, "' OR 1=1 --", "${HOME}"]),
)
JSON_VALUES = st.recursive(NASTY_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def mutated(template: dict) -> st.SearchStrategy[dict]:
    """``template`` with some keys replaced by hostile values, dropped, or joined by unknown keys."""
    keys = sorted(template)

    @st.composite
    def build(draw) -> dict:
        doc = dict(template)
        for key in draw(st.lists(st.sampled_from(keys), max_size=min(3, len(keys)), unique=True)):
            if draw(st.booleans()):
                doc[key] = draw(JSON_VALUES)
            else:
                doc.pop(key)
        if draw(st.integers(0, 9)) == 0:
            doc[draw(st.text(max_size=10))] = draw(JSON_VALUES)
        return doc

    return build()


def json_bytes(doc) -> bytes:
    """JSON with NaN/Infinity allowed and surrogates kept (invalid UTF-8 on purpose)."""
    return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


def payloads(template: dict) -> st.SearchStrategy[bytes]:
    """Mostly near-valid JSON messages; also raw bytes, invalid UTF-8, truncations and oversized blobs."""
    near_valid = mutated(template).map(json_bytes)
    return st.one_of(
        near_valid, near_valid, near_valid,
        st.binary(max_size=300),
        st.tuples(near_valid, st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
        st.just(json_bytes(template)[:-1] + b"\xff\xfe}"),
        st.integers(16_000, 70_000).map(lambda n: b'{"x":"' + b"a" * n + b'"}'),
        st.sampled_from([b"[]", b"null", b"1e999", b'"new"', b"{}", json.dumps({"type": math.inf}, allow_nan=True).encode()]),
    )


IDS = st.one_of(
    st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,31}\Z"),
    st.sampled_from(["..", "../x", ".hidden", "a/../../b", "%2e%2e", "x" * 80, "", "+", "#", "$SYS", "a\x00b"]),
    st.text(max_size=20),
)
