"""The shipped graphs/serve.yaml works offline, and the curl and openai examples of docs/serve.md run
as written (on this test's port) against `graphroute serve graphs/serve.yaml`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # the first start fits the classifier on the built-in MMLU records


@pytest.fixture(scope="module")
def shipped(serve_cache, processes):
    from graphroute.models.local import free_port

    port = free_port()
    proc = processes.start([sys.executable, "-m", "graphroute.cli.main", "serve", str(ROOT / "graphs" / "serve.yaml"),
                            "--port", str(port)], f"http://127.0.0.1:{port}/health", timeout_s=600,
                           env={"GRAPHROUTE_CACHE": str(serve_cache)})
    yield port
    processes.stop(proc)


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "docs" / "serve.md").read_text(), flags=re.S)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_docs_curl_example(shipped):
    cmd = next(b for b in _blocks("bash") if b.startswith("curl")).replace("127.0.0.1:8000", f"127.0.0.1:{shipped}")
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60).stdout
    assert "HTTP/1.1 200" in out and "x-graphroute-model: " in out.lower()
    assert '"cost":' in out and "71" in out  # Ali has $21 + $50: the replayed answer says 71


def test_docs_python_example(shipped):
    code = next(b for b in _blocks("python") if "OpenAI(" in b).replace("127.0.0.1:8000", f"127.0.0.1:{shipped}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    model, _, rest = out.stdout.partition(" ")
    assert model in ("mixtral", "gpt4") and "13" in out.stdout  # Jerry is 10 now, 13 in 3 years
