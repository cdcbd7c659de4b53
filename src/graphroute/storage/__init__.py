"""Durable storage in PostgreSQL: telemetry and feedback tables with migrations, and LangGraph
checkpoints (``checkpointer: postgresql://...``)."""

from graphroute.storage.postgres import PostgresSink, connect_pool, postgres_checkpointer, read_events

__all__ = ["PostgresSink", "connect_pool", "postgres_checkpointer", "read_events"]
