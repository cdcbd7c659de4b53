"""A private redis-server process on a loopback port (tests and benchmarks/scale.py restart it
mid-run without touching the machine's own Redis). ``persist=True`` keeps an append-only file
written on every command, as a production Redis that holds budgets should."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.folder, self.port, self.persist = Path(folder), port or free_port(), persist
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> "RedisServer":
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
                "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


def cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 <= 65535:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue


class RedisClusterServers:
    """A real Redis Cluster of ``n`` primaries (no replicas) on loopback ports, slots spread by redis-cli."""

    def __init__(self, folder: Path, n: int = 3) -> None:
        self.folder, self.ports = Path(folder), [cluster_port() for _ in range(n)]
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis-cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout_s: float = 30.0) -> "RedisClusterServers":
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        for port in self.ports:
            d = self.folder / str(port)
            d.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                                                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                "--save", "", "--appendonly", "no"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(subprocess.run([cli, "-p", str(p), "ping"], capture_output=True, text=True).stdout.strip() == "PONG"
                   for p in self.ports):
                break
            time.sleep(0.1)
        subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-replicas", "0",
                        "--cluster-yes"], capture_output=True, check=True, timeout=timeout_s)
        while time.monotonic() < deadline:
            info = subprocess.run([cli, "-p", str(self.ports[0]), "cluster", "info"], capture_output=True, text=True).stdout
            if "cluster_state:ok" in info:
                return self
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)
        self.procs = []
