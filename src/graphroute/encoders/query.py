"""The encoder a fitted router embeds *queries* with when it serves: the fastest variant of its
fitted encoder that keeps its routing quality.

``benchmarks/encoder_choice.py`` measured the variants of the default encoder (MiniLM layers 1-6)
on speed and on routing quality (APGR on MMLU and GSM8K, the 9-model accuracy, familiarity flags):
on a CPU with bfloat16 units (AMX or AVX-512 BF16) PyTorch in bf16 embeds about twice as fast as
ONNX fp32 with the same APGR and accuracy; int8 ONNX is as fast but moves 6-19 % of the
familiarity flags and loses 0.008 of 9-model accuracy. So ``auto`` takes torch-bf16 where the CPU
has bf16 units and keeps the fitted encoder elsewhere (bf16 without the units is slower, not faster).

PyTorch's threads share the cores with NumPy's OpenBLAS threads, which spin for a while after each
call: with a router's products between two bf16 forwards, one prompt took 90 ms instead of 9 ms on
2 cores. A PyTorch query encoder therefore limits OpenBLAS to one thread for the process
(``quiet_blas``): a router's products on one to a few dozen queries gain nothing from more.

Examples:
    >>> from graphroute.encoders.query import QUERY_ENCODERS, query_variant
    >>> QUERY_ENCODERS
    ('auto', 'fitted', 'onnx-int8', 'torch-bf16')
    >>> query_variant("sentence-transformers/all-MiniLM-L6-v2@seqdefault+layers1-6", "fitted") is None
    True
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from graphroute.encoders.onnx import OnnxEncoder
from graphroute.encoders.torch_bf16 import TorchBf16Encoder
from graphroute.errors import EncoderError

QUERY_ENCODERS = ("auto", "fitted", "onnx-int8", "torch-bf16")
_ID = re.compile(r"^sentence-transformers/(?P<name>[^@]+)@seqdefault(?:\+layers(?P<a>\d+)-(?P<b>\d+))?$")


@functools.cache
def bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX-BF16 or AVX-512 BF16; Linux's cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(amx_bf16|avx512_bf16)\b", flags))


def query_variant(fitted_id: str, choice: str) -> Any | None:
    """The query encoder ``choice`` names for a router fitted with encoder ``fitted_id``, or None
    to keep the fitted one (``fitted``; ``auto`` without bf16 units; an encoder with no variants).

    Raises:
        EncoderError: an explicit variant (``onnx-int8``, ``torch-bf16``) of an encoder that has none
            (only the offline MiniLM-style models with mean pooling do), or an unknown choice.
    """
    if choice not in QUERY_ENCODERS:
        raise EncoderError(f"query encoder {choice!r}: expected one of {', '.join(QUERY_ENCODERS)}")
    if choice == "fitted" or (choice == "auto" and not bf16_units()):
        return None
    m = _ID.match(str(fitted_id))
    if m is None or m["name"] != "all-MiniLM-L6-v2":
        if choice == "auto":
            return None
        raise EncoderError(f"query encoder {choice!r} has no variant of the fitted encoder {fitted_id!r}")
    layers = tuple(range(int(m["a"]), int(m["b"]) + 1)) if m["a"] else None
    return OnnxEncoder(quantize=True, layers=layers) if choice == "onnx-int8" else TorchBf16Encoder(layers=layers)


def quiet_blas() -> None:
    """Limit OpenBLAS (NumPy's and SciPy's) to one thread in this process, so that its spinning
    threads leave the cores to PyTorch's (``threadpoolctl``; other thread pools are untouched)."""
    from threadpoolctl import ThreadpoolController

    ThreadpoolController().select(internal_api="openblas").limit(limits=1)


def use_query_encoder(router: Any, choice: str) -> str | None:
    """Make a fitted embedding router embed queries with ``choice``'s variant; the variant's id, or
    None when the fitted encoder stays."""
    fitted = getattr(router, "encoder_id_", None)
    if fitted is None or not hasattr(router, "with_query_encoder"):
        return None
    enc = query_variant(fitted, choice)
    if enc is None:
        return None
    router.with_query_encoder(enc)
    if isinstance(enc, TorchBf16Encoder):
        quiet_blas()
    return str(enc.id)
