"""Schema migrations for the PostgreSQL telemetry tables: the ``migrations/NNN_name.sql`` files of
this package, applied in order at start, each once, recorded in ``graphroute_migrations``. Workers
starting together take an advisory lock, so one applies and the others wait.

Examples:
    >>> import psycopg
    >>> from graphroute.storage.migrations import apply, pending
    >>> with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
    ...     _ = apply(conn)
    ...     pending(conn)
    []
"""

from __future__ import annotations

from importlib import resources
from typing import Any

#: the advisory-lock key graphroute's migrations hold (any fixed 64-bit number)
LOCK = 0x67726F757465


def migrations() -> list[tuple[str, str]]:
    """``(name, sql)`` of every migration shipped, in order."""
    folder = resources.files("graphroute.storage") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name[:-4], f.read_text(encoding="utf-8")) for f in files]


def _applied(conn: Any) -> set[str]:
    conn.execute("CREATE TABLE IF NOT EXISTS graphroute_migrations (name TEXT PRIMARY KEY, "
                 "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
    return {r[0] for r in conn.execute("SELECT name FROM graphroute_migrations").fetchall()}


def pending(conn: Any) -> list[str]:
    """Migrations not yet applied to this database."""
    with conn.transaction():
        done = _applied(conn)
    return [n for n, _ in migrations() if n not in done]


def apply(conn: Any) -> list[str]:
    """Apply what is pending, in one transaction under the lock; returns the names applied."""
    out = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        done = _applied(conn)
        for name, sql in migrations():
            if name in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO graphroute_migrations (name) VALUES (%s)", (name,))
            out.append(name)
    return out
