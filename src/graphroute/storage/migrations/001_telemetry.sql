-- graphroute telemetry: one row per model call, routing decision and feedback event
CREATE TABLE IF NOT EXISTS graphroute_calls (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT,
    model TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION,
    error TEXT,
    extra JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS graphroute_calls_ts ON graphroute_calls (ts);

CREATE TABLE IF NOT EXISTS graphroute_decisions (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT NOT NULL,
    prompt TEXT,
    model TEXT,
    probability DOUBLE PRECISION,
    reason TEXT,
    cost DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION,
    cached BOOLEAN,
    fallback BOOLEAN,
    extra JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS graphroute_decisions_run ON graphroute_decisions (run_id);
CREATE INDEX IF NOT EXISTS graphroute_decisions_ts ON graphroute_decisions (ts);

CREATE TABLE IF NOT EXISTS graphroute_feedback (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    extra JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS graphroute_feedback_run ON graphroute_feedback (run_id);
