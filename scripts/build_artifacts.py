"""Fit what graphroute ships ready to serve: every router and graph of ``graphs/serve.yaml`` (the
``auto`` router, the cascades' learned scorers and their calibrations), fitted on the built-in records with an
empty cache, then that cache copied to ``src/graphroute/artifacts/``. ``graphs/build.py`` reads an
entry there when its own cache lacks it (same names: the entry's key), so a fresh install serves
without fitting. Reproducible: same code, records and version, same routers (``tests/test_artifacts.py``
refits and compares decisions). Run it again after changing a block, a router or the version:

    python scripts/build_artifacts.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.mkdtemp(prefix="graphroute-artifacts-"))
os.environ["GRAPHROUTE_CACHE"] = str(CACHE)  # before graphroute reads it
sys.path.insert(0, str(ROOT / "src"))

from graphroute.graphs import compile_file  # noqa: E402
from graphroute.graphs import build  # noqa: E402
from graphroute.graphs.build import ARTIFACTS  # noqa: E402
from graphroute.serve.compose import config_routers, replay_data  # noqa: E402
from graphroute.serve.settings import load_serve_config  # noqa: E402


def main() -> None:
    t0 = time.perf_counter()
    build.ARTIFACTS = CACHE / "no-artifacts"  # fit everything: do not read the artifacts being rebuilt
    cfg = load_serve_config(ROOT / "graphs" / "serve.yaml")
    routers, _ = config_routers(cfg)
    for path in cfg.graphs.values():  # the graphs it serves fit their own scorers and calibrations
        compile_file(cfg.base / path, offline=True, data=replay_data(cfg.serve.replay, cfg.base))
    built = sorted((CACHE / "graphs").iterdir())
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    for entry in built:
        (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, ARTIFACTS / entry.name)
        size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file()) if entry.is_dir() else entry.stat().st_size
        print(f"{entry.name}: {size / 1e6:.1f} MB")
    print(f"routers {sorted(routers)} built in {time.perf_counter() - t0:.0f} s -> {ARTIFACTS.relative_to(ROOT)}")
    shutil.rmtree(CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
