-- Scraping and fetching, sqlite flavour. Keep in step with ../postgres/0002_scrape.sql (the
-- two are identical: no identity columns or blobs here).

-- Every (repo, flake file) a source reported, with when it first and last did: the same repo
-- found by two sources is one repo with two rows here.
CREATE TABLE discoveries (
    repo_id BIGINT NOT NULL REFERENCES repos (id),
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    -- commit the source saw the file at, when it said
    commit_id TEXT,
    first_found_at BIGINT NOT NULL,
    last_found_at BIGINT NOT NULL,
    PRIMARY KEY (repo_id, source, path)
);

-- One row per (source, query): where an interrupted scrape resumes. cursor is the source's
-- own JSON state, NULL once the scrape finished.
CREATE TABLE scrapes (
    source TEXT NOT NULL,
    query TEXT NOT NULL,
    cursor TEXT,
    pages BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (source, query)
);

-- What gnfc fetch last did with a repo: the commit it fetched, or why it failed.
ALTER TABLE repos ADD COLUMN head_commit TEXT;
ALTER TABLE repos ADD COLUMN fetched_at BIGINT;
ALTER TABLE repos ADD COLUMN fetch_error TEXT;
