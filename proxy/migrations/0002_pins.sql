-- Answers pinned for one run. In record mode with a pin, an answer that can change upstream
-- (a branch head, the flake registry: src/freshness.rs) is fetched once per pin and kept
-- here, so every request of that run — retries and a resumed run included — sees the same
-- upstream state, while `entries` holds the latest answer for everyone else. A pin row is a
-- copy of the response, not a reference to `entries`: a later run replaces the entry, never
-- what an earlier run saw. Blobs are deleted only when neither table uses them.

CREATE TABLE pins (
    -- e.g. `nightly@1733212800000` (run name and start): the run's identity
    pin TEXT NOT NULL,
    -- the full key, as `entries.key`
    key TEXT NOT NULL,
    -- as `entries.primary_key`; finds `vary` below
    primary_key TEXT NOT NULL,
    -- the request headers (lowercase, comma-separated) this answer named in its Vary
    vary TEXT NOT NULL,
    -- for people reading the table; lookups go by key
    url TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers BLOB NOT NULL,
    body_sha256 TEXT NOT NULL,
    body_len INTEGER NOT NULL,
    -- milliseconds since the Unix epoch
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (pin, key)
);

CREATE INDEX pins_primary ON pins (pin, primary_key);
CREATE INDEX pins_blob ON pins (body_sha256);
