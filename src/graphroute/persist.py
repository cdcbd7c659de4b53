"""The one way graphroute saves and loads what it learned: a folder, written atomically.

A saved folder holds ``graphroute.json`` (the kind of object, the format version, the encoder id
when vectors are involved, and the object's own metadata), optionally ``arrays.npz`` (plain
arrays, read without pickle), ``<name>.skops`` files (fitted scikit-learn estimators kept whole —
the MLP head, the cascade's learned scorer — through ``skops.io``: no pickle) and sub-folders of
nested objects.

Loading a folder never runs code it names. Every type a ``.skops`` file's schema names is checked
against ``SKOPS_TYPES``, the exact types of the estimators graphroute itself writes, before
skops reads anything else (no prefixes: ``builtins.exec`` and ``numpy.testing...runstring`` are
refused like any other name); the class a ``graphroute.json`` names is looked up among the classes
this process already defines, never imported; and while a folder loads (``loading``), a
``"module:function"`` string in it (a format scorer's parser) is refused instead of imported. A
tampered folder raises ``PersistenceError`` naming the file and the type. The
classifier's members keep their fitted state as arrays instead (linear weights, flat trees, a
vocabulary), because a saved router must route within seconds of a cold start and importing
``skops.io`` alone took longer than that here (the docs' benchmarks page). ``write_folder`` fills a temporary sibling and swaps it in, so
a failed or interrupted save never leaves a half-written folder behind; ``read_folder``
checks the kind and format version, and ``Saved.check_encoder`` is the one check that a
folder saved with one encoder is not used with another.

Examples:
    >>> import tempfile, numpy as np
    >>> from graphroute.persist import read_folder, save_folder
    >>> p = save_folder(tempfile.mkdtemp() + "/thing", "demo", {"size": 3}, arrays={"w": np.ones(3)})
    >>> saved = read_folder(p, "demo")
    >>> saved.meta["size"], saved.arrays()["w"].tolist()
    (3, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from graphroute.errors import PersistenceError

FORMAT_VERSION = 2
META = "graphroute.json"
ARRAYS = "arrays.npz"
#: Every type a ``.skops`` file may name: exactly the types of the estimators graphroute writes (the
#: MLP head; the learned scorer's logistic regression, scaler pipeline and boosted trees) and what
#: they hold. ``tests/test_security.py`` fits each of them and checks that this list covers them.
SKOPS_TYPES = frozenset({
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list", "builtins.str",
    "builtins.tuple",
    "numpy.bool_", "numpy.dtype", "numpy.float32", "numpy.float64", "numpy.int32", "numpy.int64", "numpy.ndarray",
    "numpy.uint64", "numpy.random._generator.Generator", "numpy.random.mtrand.RandomState",
    "sklearn._loss._loss.CyHalfBinomialLoss", "sklearn._loss._loss.CyHalfSquaredError", "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval", "sklearn._loss.link.LogitLink", "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.linear_model._ridge.Ridge",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing._label.LabelEncoder",
})
_LOADING: contextvars.ContextVar[Path | None] = contextvars.ContextVar("graphroute_loading", default=None)


@contextlib.contextmanager
def loading(path: str | Path) -> Iterator[None]:
    """While a saved folder at ``path`` is turned back into objects: code it names is refused
    (``refuse_code``)."""
    token = _LOADING.set(Path(path))
    try:
        yield
    finally:
        _LOADING.reset(token)


def refuse_code(what: str, name: str) -> None:
    """Raise ``PersistenceError`` when a folder is loading and it names code to import.

    Examples:
        >>> from graphroute.persist import loading, refuse_code
        >>> refuse_code("parser", "os:system")   # a config file the user wrote: allowed
        >>> with loading("/tmp/router"):
        ...     refuse_code("parser", "os:system")
        Traceback (most recent call last):
        ...
        graphroute.errors.PersistenceError: /tmp/router: graphroute.json names code to import (parser 'os:system'); a saved folder is data and never imports code: pass the callable itself when you build the object
    """
    path = _LOADING.get()
    if path is not None:
        raise PersistenceError(f"{META} names code to import ({what} {name!r}); a saved folder is data and never "
                               f"imports code: pass the callable itself when you build the object", path=path)


def skops_types(path: Path) -> set[str]:
    """Every ``module.Class`` a ``.skops`` file's schema names, read from the zip's ``schema.json``
    without skops (nothing is imported or constructed)."""
    try:
        with zipfile.ZipFile(path) as z:
            schema = json.loads(z.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise PersistenceError(f"{path.name} is corrupt: not a skops file ({exc})", path=path.parent) from None
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node or "__class__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


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


def save_folder(path: str | Path, kind: str, meta: dict[str, Any], *, arrays: dict[str, np.ndarray] | None = None,
                estimators: dict[str, Any] | None = None, encoder_id: str | None = None,
                write: Callable[[Path], Any] | None = None) -> Path:
    """Save an object of ``kind``: ``meta`` (JSON), ``arrays``, fitted ``estimators`` (skops) and
    whatever ``write(folder)`` adds (nested objects; a dict it returns joins ``meta``); replaced
    atomically."""
    doc = {"kind": kind, "format_version": FORMAT_VERSION, "encoder_id": encoder_id, **meta}

    def fill(tmp: Path) -> None:
        extra = write(tmp) if write is not None else None
        try:
            text = json.dumps({**doc, **(extra if isinstance(extra, dict) else {})}, indent=2)
        except TypeError as exc:
            raise PersistenceError(f"{kind} metadata is not JSON-serialisable: {exc}", path=path) from None
        (tmp / META).write_text(text)
        if arrays:
            np.savez(tmp / ARRAYS, **arrays)  # type: ignore[arg-type]
        for name, est in (estimators or {}).items():
            import skops.io as sio

            sio.dump(est, tmp / f"{name}.skops")

    return write_folder(path, fill)


@dataclass
class Saved:
    """A saved folder, read and checked: its metadata now, arrays and estimators on demand."""

    path: Path
    meta: dict[str, Any]
    _arrays: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def encoder_id(self) -> str | None:
        return self.meta.get("encoder_id")

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of ``arrays.npz`` (no pickle); ``{}`` when the object saved none."""
        if self._arrays is None:
            f = self.path / ARRAYS
            self._arrays = read_npz(f) if f.exists() else {}
        return self._arrays

    def array(self, name: str) -> np.ndarray:
        a = self.arrays()
        if name not in a:
            raise PersistenceError(f"{ARRAYS} has no array {name!r}: saved by another version", path=self.path)
        return a[name]

    def estimator(self, name: str) -> Any:
        """The scikit-learn estimator saved as ``<name>.skops``; every type its schema names must be
        one of ``SKOPS_TYPES``, checked before skops is imported."""
        f = self.path / f"{name}.skops"
        if not f.is_file():
            raise PersistenceError(f"{f.name} is missing", path=self.path)
        bad = sorted(skops_types(f) - SKOPS_TYPES)
        if bad:
            raise PersistenceError(f"{f.name} names types graphroute never writes: {', '.join(bad)}; refused "
                                   f"before anything was loaded", path=self.path)
        import skops.io as sio

        try:
            untrusted = sio.get_untrusted_types(file=f)
            if not set(untrusted) <= SKOPS_TYPES:  # cannot happen after the check above; kept as a second line
                raise PersistenceError(f"{f.name} names types graphroute never writes: {untrusted}", path=self.path)
            return sio.load(f, trusted=untrusted)
        except PersistenceError:
            raise
        except Exception as exc:  # skops raises many kinds on a corrupt file
            raise PersistenceError(f"{f.name} is corrupt: {exc}", path=self.path) from None

    def check_encoder(self, encoder_id: str) -> None:
        """The one encoder check: vectors of another encoder would make every prediction wrong."""
        saved = self.encoder_id
        if saved is not None and saved != "none" and saved != encoder_id:
            raise PersistenceError(f"fitted with encoder {saved!r} but loaded with {encoder_id!r}; pass the encoder "
                                   f"that gives {saved!r} vectors (or fit again)", path=self.path)


def read_folder(path: str | Path, kind: str | tuple[str, ...]) -> Saved:
    """Read a folder written by ``save_folder``; typed errors name the folder and what is wrong."""
    path = Path(path)
    meta = read_json(path / META, kind if isinstance(kind, str) else kind[0])
    kinds = (kind,) if isinstance(kind, str) else kind
    if meta.get("kind") not in kinds:
        raise PersistenceError(f"holds a saved {meta.get('kind')!r}, not a {' or '.join(kinds)}", path=path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise PersistenceError(f"format_version {meta.get('format_version')!r}; this graphroute reads {FORMAT_VERSION}"
                               " (save it again with this version)", path=path)
    return Saved(path, meta)


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
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:
        raise PersistenceError(f"{path.name} is missing or corrupt: {exc}", path=path.parent) from None
