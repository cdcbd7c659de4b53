"""One BLAS thread while a router predicts for a few queries.

Right after an encoder forward, the encoder's worker threads (PyTorch's OpenMP pool, ONNX
Runtime's) are still spinning on both cores; a router's small matrix products (heads, the kNN
members' projection, exact search) that OpenBLAS splits over two threads then wait for a core.
Measured on the classifier (2 cores, MMLU prompts, bulk encoder, four alternating runs): calls of
24 / 32 / 48 prompts routed at 115 / 121 / 132 prompts/s (medians) with threaded BLAS and 160 / 160 /
157 with one thread. Large calls (256) gained nothing in an earlier test, so they keep the threads;
calls of up to 8 are left alone too (their products are too small for OpenBLAS to split; one prompt
routed at p50 9.4 ms with the limit and 9.1 without it, noise).

The limit goes through ``threadpoolctl`` and is shared by concurrent callers, reference-counted: the
first to enter sets it, the last to leave restores the original. (Some OpenBLAS builds keep the
thread count per calling thread, so a limit set from a worker thread may not reach other threads.)
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

#: Calls of more than ``FEW_QUERIES[0]`` and at most ``FEW_QUERIES[1]`` prompts predict with one BLAS thread.
FEW_QUERIES = (8, 64)

_lock = threading.Lock()
_state: dict = {"controller": None, "depth": 0, "limiter": None}


def _controller():
    if _state["controller"] is None:
        from threadpoolctl import ThreadpoolController

        _state["controller"] = ThreadpoolController()
    return _state["controller"]


@contextlib.contextmanager
def few_query_blas(n: int) -> Iterator[None]:
    """Within the block, BLAS runs on one thread if ``n`` is in ``FEW_QUERIES`` (else nothing changes).

    Example:
        >>> import numpy as np
        >>> from graphroute.routers.blas_threads import few_query_blas
        >>> with few_query_blas(32):
        ...     float((np.ones((32, 4)) @ np.ones(4)).sum())
        128.0
    """
    if not FEW_QUERIES[0] < n <= FEW_QUERIES[1]:
        yield
        return
    with _lock:
        controller = _controller()
        if _state["depth"] == 0:
            _state["limiter"] = controller.limit(limits=1, user_api="blas")
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["limiter"] is not None:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None
