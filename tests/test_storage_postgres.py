"""PostgreSQL telemetry, migrations and LangGraph checkpoints against a real PostgreSQL server
(127.0.0.1:5432, database ``test``; .ci/run starts it when it is down)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from graphroute.datasets.logged import from_logs
from graphroute.errors import ServiceUnavailableError
from graphroute.graphs import compile_file, run_graph
from graphroute.runtime import JsonlSink, summarise
from graphroute.runtime.telemetry import log_feedback
from graphroute.storage import PostgresSink, read_events
from graphroute.storage.migrations import apply, migrations, pending
from graphroute.types import Decision

@pytest.fixture
def db(postgres_db):
    return postgres_db


def test_migrations_apply_once_even_when_workers_start_together(db):
    applied: list[list[str]] = []

    def start():
        with psycopg.connect(db) as conn:
            applied.append(apply(conn))

    threads = [threading.Thread(target=start) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(migrations())]
    with psycopg.connect(db) as conn:
        assert pending(conn) == []
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"graphroute_calls", "graphroute_decisions", "graphroute_feedback", "graphroute_migrations"} <= tables


def _log(sink, n: int) -> None:
    from graphroute.runtime.telemetry import log_decision

    for i in range(n):
        d = Decision(model="small" if i % 3 else "big", scores={}, probability=0.9 if i % 3 else 0.1, reason="test")
        log_decision(sink, f"r{i}", f"prompt {i} with key sk-abcdefghijklmnopqrstuvwx", d, cost=0.001 * (i % 3),
                     latency_ms=10.0 + i)
        if i % 2 == 0:
            log_feedback(sink, f"r{i}", 1.0 if i % 3 else 0.0)


def test_stats_and_from_logs_read_postgres_as_they_read_jsonl(db, tmp_path):
    sink = PostgresSink(db)
    _log(sink, 30)
    jsonl = JsonlSink(tmp_path / "t.jsonl")
    _log(jsonl, 30)
    assert sink.flush() and sink.written == 45
    sink.close()
    events = list(read_events(db))
    assert len(events) == 45 and all("[REDACTED]" in e["prompt"] for e in events if e["event"] == "decision")
    assert summarise(read_events(db)) == summarise(tmp_path / "t.jsonl")
    rows_pg, counts_pg = from_logs(db)
    rows_file, counts_file = from_logs(tmp_path / "t.jsonl")
    assert counts_pg == counts_file and counts_pg["joined"] == 15
    assert [(r["run_id"], r["model"], r["score"], r["propensity"]) for r in rows_pg] == \
        [(r["run_id"], r["model"], r["score"], r["propensity"]) for r in rows_file]
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "stats", db, "--json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["decisions"] == 30
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "dataset", "from-logs", db, "--out",
                          str(tmp_path / "logged.csv")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len((tmp_path / "logged.csv").read_text().splitlines()) == 16


def test_the_sink_holds_records_while_postgres_refuses_them_and_writes_them_after(db):
    sink = PostgresSink(db, flush_s=0.05)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("ALTER TABLE graphroute_feedback RENAME TO graphroute_feedback_away")
        log_feedback(sink, "r1", 1.0)  # the table is gone: the insert fails and the record is held
        time.sleep(0.3)
        assert sink.written == 0
        conn.execute("ALTER TABLE graphroute_feedback_away RENAME TO graphroute_feedback")
    assert sink.flush(timeout_s=5) and sink.written == 1
    sink.close()
    assert [e["run_id"] for e in read_events(db)] == ["r1"]


def test_an_unreachable_postgres_is_a_typed_error_naming_the_host():
    with pytest.raises(ServiceUnavailableError, match="127.0.0.1:1"):
        PostgresSink("postgresql://postgres@127.0.0.1:1/test")


def test_graph_checkpoints_in_postgres_resume_from_another_worker(db, tmp_path):
    graph = tmp_path / "g.yaml"
    graph.write_text(f"""\
checkpointer: {db}
models:
  small: {{model: "openai:gpt-4o-mini", input_price: 0.15, output_price: 0.6, offline_response: "small says 4"}}
state: {{question: str, answer: str}}
nodes:
  answer: {{type: llm, model: small, prompt: "Q: {{question}}", output: answer}}
edges:
  - {{from: START, to: answer}}
  - {{from: answer, to: END}}
""")
    first = compile_file(graph, offline=True)  # one worker runs the thread (checkpointer from the YAML) ...
    cfg = {"configurable": {"thread_id": "t-1"}}
    run_graph(first, "what is 2 + 2", config=cfg)
    second = compile_file(graph, offline=True)  # ... another, with its own pool, reads where it stands
    state = second.get_state(cfg)
    assert state.values["answer"] == "small says 4" and state.values["question"] == "what is 2 + 2"
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = 't-1'").fetchone()[0] >= 2
