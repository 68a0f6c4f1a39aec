-- gnfc proxy cache index. Bodies live in the blob store (blobs/ab/<sha256>); this file says
-- which request got which response. Keys are explained in src/cache/key.rs.

CREATE TABLE entries (
    -- SHA-256 (hex) of method, URL, request-body hash and the keyed request headers
    key TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 (hex) of method, URL and request-body hash only: finds `vary` below
    primary_key TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    status INTEGER NOT NULL,
    -- response headers as `name:value` lines (hop-by-hop and length headers removed)
    headers BLOB NOT NULL,
    body_sha256 TEXT NOT NULL,
    body_len INTEGER NOT NULL,
    -- milliseconds since the Unix epoch
    stored_at INTEGER NOT NULL
);

CREATE INDEX entries_host ON entries (host);
CREATE INDEX entries_blob ON entries (body_sha256);

-- The request headers (lowercase, comma-separated) the last stored response for a primary
-- key named in its Vary; consulted before the full key can be computed.
CREATE TABLE vary (
    primary_key TEXT PRIMARY KEY NOT NULL,
    names TEXT NOT NULL
);

-- Hits and misses per host, kept across restarts for `gnfc proxy stats`.
CREATE TABLE host_counters (
    host TEXT PRIMARY KEY NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    misses INTEGER NOT NULL DEFAULT 0
);
