"""Telemetry in PostgreSQL (``psycopg`` 3 with a connection pool): the sink that ``graphroute
serve`` and the gateway write decisions, calls and feedback to, and the reader ``graphroute
stats`` and ``graphroute dataset from-logs`` use (psycopg is imported on first use: it costs a quarter of a
second, and most commands never touch PostgreSQL). Records are the JSONL sink's, redacted of
secrets; a background thread writes them in batches, so a request never waits for the database,
and keeps them (bounded) while PostgreSQL is unreachable.

Examples:
    >>> from graphroute.storage import PostgresSink, read_events
    >>> url = "postgresql://postgres@127.0.0.1:5432/test"
    >>> sink = PostgresSink(url, table_prefix="doctest_")
    >>> sink.write({"event": "feedback", "ts": 1.0, "run_id": "r1", "score": 1.0})
    >>> sink.close()
    >>> [e["score"] for e in read_events(url, table_prefix="doctest_") if e["run_id"] == "r1"][-1]
    1.0
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

from graphroute.errors import ServiceUnavailableError
from graphroute.extras import require
from graphroute.redaction import redact
from graphroute.storage.migrations import apply, migrations

log = logging.getLogger("graphroute.storage")

COLUMNS = {
    "call": ("calls", ["ts", "run_id", "model", "input_tokens", "output_tokens", "cost", "latency_ms", "error"]),
    "decision": ("decisions", ["ts", "run_id", "prompt", "model", "probability", "reason", "cost", "latency_ms", "cached",
                               "fallback"]),
    "feedback": ("feedback", ["ts", "run_id", "score"]),
    "experiment": ("experiments", ["ts", "run_id", "experiment", "unit", "arm", "model", "propensity", "cost",
                                   "latency_ms", "error"]),
    "shadow": ("experiment_shadows", ["ts", "run_id", "experiment", "arm", "model", "cost", "latency_ms", "error"]),
}
#: records held in memory while PostgreSQL is unreachable (the oldest are dropped beyond it, logged)
MAX_QUEUE = 100_000


def host_of(url: str) -> str:
    u = urlsplit(url)
    return f"{u.hostname or 'localhost'}:{u.port or 5432}"


def connect_pool(url: str, *, min_size: int = 1, max_size: int = 4, timeout_s: float = 5.0, **kwargs: Any) -> Any:
    """An open ``psycopg_pool.ConnectionPool``, or ``ServiceUnavailableError`` naming the host
    (``MissingExtraError`` without the ``postgres`` extra)."""
    require("psycopg_pool", "PostgreSQL storage")
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout

    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, kwargs=kwargs or None, timeout=timeout_s)
    try:
        pool.open(wait=True, timeout=timeout_s)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        pool.close()
        raise ServiceUnavailableError(f"PostgreSQL is unreachable: {exc}", host_of(url)) from None
    return pool


class PostgresSink:
    """``write(record)`` as ``JsonlSink``; ``table_prefix`` names the tables
    (``graphroute_`` by default: ``graphroute_calls``, ``graphroute_decisions``, ``graphroute_feedback``,
    ``graphroute_experiments``, ``graphroute_experiment_shadows``)."""

    def __init__(self, url: str, *, table_prefix: str = "graphroute_", batch: int = 500, flush_s: float = 0.2) -> None:
        self.url, self.prefix, self.batch, self.flush_s = url, table_prefix, batch, flush_s
        self.pool = connect_pool(url)
        with self.pool.connection() as conn:
            if table_prefix == "graphroute_":
                apply(conn)
            else:
                create_tables(conn, table_prefix)
        self._q: queue.Queue = queue.Queue()
        self.written = self.dropped = 0
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="graphroute-pg-sink", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        if self._q.qsize() >= MAX_QUEUE:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("PostgreSQL telemetry queue full: %d records dropped", self.dropped)
            return
        self._idle.clear()
        self._q.put(json.loads(redact(json.dumps(record, default=str))))

    def _insert(self, records: list[dict]) -> None:
        from psycopg.types.json import Jsonb

        by_event: dict[str, list[tuple]] = {}
        for r in records:
            if r.get("event") in COLUMNS:
                cols = COLUMNS[r["event"]][1]
                extra = {k: v for k, v in r.items() if k not in cols and k != "event"}
                row = [str(r[c]) if c == "error" and r.get(c) is not None else r.get(c) for c in cols]
                by_event.setdefault(r["event"], []).append((*row, Jsonb(extra)))
        with self.pool.connection() as conn, conn.cursor() as cur:
            for event, rows in by_event.items():
                table, cols = COLUMNS[event]
                cur.executemany(f"INSERT INTO {self.prefix}{table} ({', '.join(cols)}, extra) "
                                f"VALUES ({', '.join(['%s'] * (len(cols) + 1))})", rows)

    def _run(self) -> None:
        import psycopg
        from psycopg_pool import PoolTimeout

        held: list[dict] = []
        while not (self._stop.is_set() and self._q.empty() and not held):
            try:
                held.append(self._q.get(timeout=self.flush_s))
                while len(held) < self.batch:
                    held.append(self._q.get_nowait())
            except queue.Empty:
                pass
            if not held:
                self._idle.set()
                continue
            try:
                self._insert(held)
                self.written += len(held)
                held = []
            except (psycopg.OperationalError, psycopg.errors.UndefinedTable, PoolTimeout) as exc:
                log.warning("PostgreSQL at %s refused telemetry (%s): %d records held", host_of(self.url), exc, len(held))
                if self._stop.is_set():
                    return
                time.sleep(0.5)
            except psycopg.Error as exc:  # a record the table cannot take: dropped, not retried forever
                log.error("telemetry batch of %d records dropped: %s", len(held), exc)
                self.dropped += len(held)
                held = []
            if self._q.empty() and not held:
                self._idle.set()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every record written so far is in the database."""
        return self._idle.wait(timeout_s)

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._thread.join(timeout=10)
        self.pool.close()


def create_tables(conn: Any, prefix: str) -> None:
    """The telemetry tables under another prefix (tests, several deployments in one database)."""
    with conn.transaction():
        for _, sql in migrations():
            conn.execute(sql.replace("graphroute_", prefix))


def read_events(url: str, *, table_prefix: str = "graphroute_", since: float | None = None) -> Iterator[dict[str, Any]]:
    """Every record of the telemetry tables as the JSONL sink writes them (``event`` call, decision,
    feedback, experiment, shadow), table by table, each oldest first; ``since``: only records after this Unix time."""
    pool = connect_pool(url, max_size=1)
    try:
        with pool.connection() as conn:
            for event, (table, cols) in COLUMNS.items():
                if conn.execute("SELECT to_regclass(%s)", (f"{table_prefix}{table}",)).fetchone()[0] is None:
                    continue  # a database written before this table's migration
                sql = f"SELECT {', '.join(cols)}, extra FROM {table_prefix}{table}"
                rows = conn.execute(sql + (" WHERE ts > %s" if since is not None else "") + " ORDER BY id",
                                    (since,) if since is not None else ()).fetchall()
                for row in rows:
                    rec = {"event": event, **dict(zip(cols, row[:-1])), **(row[-1] or {})}
                    yield {k: v for k, v in rec.items() if v is not None or k in ("error",)}
    finally:
        pool.close()


def postgres_checkpointer(url: str) -> Any:
    """LangGraph's ``PostgresSaver`` over a pool (its tables set up once): runs resume from any worker."""
    require("langgraph.checkpoint.postgres", "PostgreSQL checkpoints")
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    pool = connect_pool(url, max_size=8, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    saver = PostgresSaver(pool)
    saver.setup()
    return saver
