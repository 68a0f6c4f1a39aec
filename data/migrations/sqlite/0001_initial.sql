-- gnfc schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql: the two
-- differ only in identity columns and the blob type.

CREATE TABLE repos (
    id INTEGER PRIMARY KEY,
    forge TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL UNIQUE,
    stars BIGINT,
    default_branch TEXT,
    -- revision of the newest snapshot added; the corpus is the flakes at this revision
    revision TEXT,
    added_at BIGINT NOT NULL
);

CREATE TABLE flakes (
    id INTEGER PRIMARY KEY,
    repo_id BIGINT NOT NULL REFERENCES repos (id),
    subdir TEXT NOT NULL,
    revision TEXT NOT NULL,
    flake_file TEXT NOT NULL,
    source_dir TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    UNIQUE (repo_id, subdir, revision)
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE TABLE lockfiles (
    hash TEXT PRIMARY KEY,
    content BLOB NOT NULL,
    size BIGINT NOT NULL,
    nodes BIGINT NOT NULL
);

CREATE TABLE tests (
    id INTEGER PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    flake_id BIGINT NOT NULL REFERENCES flakes (id),
    implementation TEXT NOT NULL,
    resolver TEXT NOT NULL,
    outcome TEXT,
    error_class TEXT,
    error_category TEXT,
    error_detail TEXT,
    exit_code BIGINT,
    lock_ms BIGINT,
    enumerate_ms BIGINT,
    eval_ms BIGINT,
    total_ms BIGINT,
    lockfile_hash TEXT REFERENCES lockfiles (hash),
    attempt BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT,
    UNIQUE (run_id, flake_id, implementation, resolver)
);

CREATE INDEX tests_by_run_outcome ON tests (run_id, outcome);

CREATE TABLE outputs (
    id INTEGER PRIMARY KEY,
    test_id BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    attr_path TEXT NOT NULL,
    status TEXT NOT NULL,
    drv_path TEXT,
    eval_ms BIGINT NOT NULL,
    error_class TEXT,
    error_category TEXT,
    error_detail TEXT,
    UNIQUE (test_id, attr_path)
);

CREATE TABLE stderr (
    test_id BIGINT NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    attr_path TEXT NOT NULL,
    content BLOB NOT NULL,
    total_bytes BIGINT NOT NULL,
    kept_bytes BIGINT NOT NULL,
    PRIMARY KEY (test_id, stage, attr_path)
);
