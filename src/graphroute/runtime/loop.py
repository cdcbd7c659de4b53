"""One long-lived event loop for the library's synchronous entry points (``Gateway.invoke``, ``collect``).

``asyncio.run`` makes and closes a loop per call, but HTTP clients such as ``langchain-openai``'s
keep their connection pools bound to the loop of their first request: a second ``asyncio.run`` then
fails with "Event loop is closed". Sync calls therefore run on one loop owned by a daemon thread.
(anyio's blocking portal does the same but must be held open by a context manager; this is the
ten lines it takes without one.) Called from inside a running loop, use the async API instead.

Examples:
    >>> import asyncio
    >>> from graphroute.runtime.loop import run_sync
    >>> async def twice(x): await asyncio.sleep(0); return 2 * x
    >>> run_sync(twice(21)), run_sync(twice(1))
    (42, 2)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine

_LOOP: asyncio.AbstractEventLoop | None = None
_LOCK = threading.Lock()


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    with _LOCK:
        if _LOOP is None or _LOOP.is_closed():
            _LOOP = asyncio.new_event_loop()
            threading.Thread(target=_LOOP.run_forever, name="graphroute-loop", daemon=True).start()
        return _LOOP


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on the library's loop and return its result (or raise its error)."""
    return asyncio.run_coroutine_threadsafe(coro, _loop()).result()
