"""How fast one worker's PostgreSQL telemetry sink writes decision rows (batched executemany from
its background thread) into a fresh database on 127.0.0.1:5432.

    python benchmarks/telemetry_pg.py [--rows 50000]

Last line: ``caller_rows_per_s=C db_rows_per_s=D``
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg

from graphroute.runtime.telemetry import log_decision
from graphroute.storage import PostgresSink
from graphroute.types import Decision

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    n = ap.parse_args().rows
    name = f"gr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        sink = PostgresSink(f"postgresql://postgres@127.0.0.1:5432/{name}")
        d = Decision(model="small", scores={}, probability=0.9, reason="weighted random")
        t0 = time.perf_counter()
        for i in range(n):
            log_decision(sink, f"r{i}", f"prompt number {i}: what is the capital of France?", d, cost=1e-4, latency_ms=12.0)
        t1 = time.perf_counter()
        sink.flush(300)
        t2 = time.perf_counter()
        sink.close()
        print(f"{sink.written} rows: write() {n / (t1 - t0):,.0f}/s in the caller, {n / (t2 - t0):,.0f} rows/s into PostgreSQL")
        print(f"caller_rows_per_s={n / (t1 - t0):.0f} db_rows_per_s={n / (t2 - t0):.0f}")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
