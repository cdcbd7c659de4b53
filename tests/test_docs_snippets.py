"""Every Python snippet of README.md and the docs runs as written, offline.

A page's snippets run in order in one fresh interpreter (a later snippet may use what an earlier one
on the same page defined, as a reader would), in an empty folder where ``graphs/`` is the
repository's. A snippet that needs what a test cannot have offline (a server the reader started, a
provider key) is preceded by ``<!-- docs-test: skip: <reason> -->``: it must still parse, and the
reasons are listed in the test's failure message so that none hides.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- docs-test: skip: (?P<why>[^>]+?) -->\s*\n)?```python\n(?P<code>.*?)```", re.S)
#: skips allowed, by reason (a new one must be added here on purpose)
REASONS = {"needs a running graphroute serve", "needs a provider API key"}


def snippets(page: Path) -> list[tuple[int, str, str | None]]:
    text = page.read_text(encoding="utf-8")
    return [(text[: m.start("code")].count("\n") + 1, m.group("code"), m.group("why")) for m in BLOCK.finditer(text)]


def test_every_snippet_parses_and_skips_only_for_the_known_reasons():
    found, skipped = 0, []
    for page in PAGES:
        for line, code, why in snippets(page):
            found += 1
            ast.parse(code, filename=f"{page.name}:{line}")
            if why is not None:
                skipped.append((page.name, line, why.strip()))
    assert found >= 20
    assert all(why in REASONS for *_, why in skipped), skipped
    assert len(skipped) <= 4, skipped


@pytest.mark.parametrize("page", [p for p in PAGES if any(why is None for *_, why in snippets(p))],
                         ids=lambda p: p.name)
def test_the_snippets_of_a_page_run_as_written(page, tmp_path):
    parts = []
    for line, code, why in snippets(page):
        if why is None:
            parts.append(f"# --- {page.name}:{line}\n{code}")
    (tmp_path / "graphs").symlink_to(ROOT / "graphs")
    script = tmp_path / "snippets.py"
    script.write_text("\n".join(parts), encoding="utf-8")
    env = {**os.environ, "OPENAI_API_KEY": "", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env=env)
    assert proc.returncode == 0, f"{page.name}: {proc.stderr[-3000:]}"
