-- graphroute experiments: one row per request an experiment assigned (its arm, every arm's decision
-- in extra.decisions, the propensity of the model served) and one per shadow call (its answer in extra)
CREATE TABLE IF NOT EXISTS graphroute_experiments (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT NOT NULL,
    experiment TEXT NOT NULL,
    unit TEXT,
    arm TEXT NOT NULL,
    model TEXT,
    propensity DOUBLE PRECISION,
    cost DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION,
    error TEXT,
    extra JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS graphroute_experiments_name ON graphroute_experiments (experiment, ts);
CREATE INDEX IF NOT EXISTS graphroute_experiments_run ON graphroute_experiments (run_id);

CREATE TABLE IF NOT EXISTS graphroute_experiment_shadows (
    id BIGSERIAL PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT NOT NULL,
    experiment TEXT NOT NULL,
    arm TEXT NOT NULL,
    model TEXT,
    cost DOUBLE PRECISION,
    latency_ms DOUBLE PRECISION,
    error TEXT,
    extra JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS graphroute_experiment_shadows_name ON graphroute_experiment_shadows (experiment, ts);
