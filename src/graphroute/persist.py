"""Atomic save folders: write into a temporary sibling, then swap it in, so a failed or interrupted
save never leaves a half-written router, scorer or cascade behind.

Example:
    >>> import tempfile, pathlib
    >>> from graphroute.persist import write_folder
    >>> p = write_folder(pathlib.Path(tempfile.mkdtemp()) / "thing", lambda d: (d / "a.txt").write_text("hi"))
    >>> (p / "a.txt").read_text()
    'hi'
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from graphroute.errors import PersistenceError


def write_folder(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` to fill a temporary folder, then atomically replace ``path`` with it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        write(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}-old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must exist and parse; typed errors naming the file otherwise."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PersistenceError(f"no {path.name}: not a saved {what}", path=path.parent) from None
    except (ValueError, OSError) as exc:
        raise PersistenceError(f"{path.name} is corrupt: {exc}", path=path.parent) from None
    if not isinstance(data, dict):
        raise PersistenceError(f"{path.name} is corrupt: expected a JSON object", path=path.parent)
    return data


def read_npz(path: Path) -> dict[str, Any]:
    """All arrays of an ``.npz`` file (no pickle); a typed error when it is missing or corrupt."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:
        raise PersistenceError(f"{path.name} is missing or corrupt: {exc}", path=path.parent) from None
