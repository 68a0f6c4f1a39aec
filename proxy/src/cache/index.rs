//! The cache index in SQLite: which request got which response, what each run pinned
//! (`migrations/0002_pins.sql`), plus per-host counters.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};

use crate::error::{ProxyError, Result};
use crate::stats::{CacheStats, HostStats};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One stored response.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body_sha256: String,
    pub(crate) body_len: u64,
}

/// A response about to be stored.
#[derive(Debug)]
pub(crate) struct NewEntry<'a> {
    pub(crate) key: &'a str,
    pub(crate) primary: &'a str,
    pub(crate) vary: &'a [String],
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    pub(crate) host: &'a str,
    pub(crate) status: u16,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body_sha256: &'a str,
    pub(crate) body_len: u64,
    /// Also pin it for this run; the first answer pinned for a key stays.
    pub(crate) pin: Option<&'a str>,
}

/// The SQLite index.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    pool: SqlitePool,
}

impl Index {
    /// Opens `path`, creating it if `create`, and brings its schema up to date.
    pub(crate) async fn open(path: &Path, create: bool) -> Result<Self> {
        let open_error = |source| ProxyError::CacheOpen {
            path: PathBuf::from(path),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_error)?
            .filename(path)
            .create_if_missing(create)
            // WAL: lookups from many requests go on while one response is being stored,
            // and `gnfc proxy stats` can read while the proxy runs.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            // SQLite has one writer at a time; a few connections serve concurrent reads.
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|source| ProxyError::Migrate {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self { pool })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// The `Vary` names recorded for a primary key (empty when none): with a pin, those of
    /// the answer pinned for it if there is one, else those of the latest stored answer.
    pub(crate) async fn vary(&self, primary: &str, pin: Option<&str>) -> Result<Vec<String>> {
        let pinned: Option<String> = match pin {
            Some(pin) => {
                sqlx::query_scalar(
                    "SELECT vary FROM pins WHERE pin = ?1 AND primary_key = ?2 LIMIT 1",
                )
                .bind(pin)
                .bind(primary)
                .fetch_optional(&self.pool)
                .await?
            }
            None => None,
        };
        let names = match pinned {
            Some(names) => Some(names),
            None => {
                sqlx::query_scalar("SELECT names FROM vary WHERE primary_key = ?1")
                    .bind(primary)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        Ok(names
            .map(|n| {
                n.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The answer stored under a full key: the one pinned for `pin`, or with no pin the
    /// latest.
    pub(crate) async fn lookup(&self, key: &str, pin: Option<&str>) -> Result<Option<Entry>> {
        let query = match pin {
            None => sqlx::query(
                "SELECT status, headers, body_sha256, body_len FROM entries WHERE key = ?1",
            )
            .bind(key),
            Some(pin) => sqlx::query(
                "SELECT status, headers, body_sha256, body_len FROM pins \
                 WHERE key = ?1 AND pin = ?2",
            )
            .bind(key)
            .bind(pin),
        };
        let row = query.fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let status: i64 = row.try_get("status")?;
        let headers: Vec<u8> = row.try_get("headers")?;
        let body_len: i64 = row.try_get("body_len")?;
        Ok(Some(Entry {
            status: u16::try_from(status).unwrap_or(0),
            headers: decode_headers(&headers),
            body_sha256: row.try_get("body_sha256")?,
            body_len: u64::try_from(body_len).unwrap_or(0),
        }))
    }

    /// Stores an entry (replacing one with the same key), its `Vary` names and its pin.
    /// Returns the blob of a replaced entry when nothing uses it any more, for the caller to
    /// delete.
    pub(crate) async fn insert(&self, entry: &NewEntry<'_>) -> Result<Option<String>> {
        let headers = encode_headers(entry.headers);
        let body_len = i64::try_from(entry.body_len).unwrap_or(i64::MAX);
        let stored_at = now_ms();
        let mut tx = self.pool.begin().await?;
        let old: Option<String> =
            sqlx::query_scalar("SELECT body_sha256 FROM entries WHERE key = ?1")
                .bind(entry.key)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT OR REPLACE INTO entries \
             (key, primary_key, method, url, host, status, headers, body_sha256, body_len, stored_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(entry.key)
        .bind(entry.primary)
        .bind(entry.method)
        .bind(entry.url)
        .bind(entry.host)
        .bind(i64::from(entry.status))
        .bind(&headers)
        .bind(entry.body_sha256)
        .bind(body_len)
        .bind(stored_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT OR REPLACE INTO vary (primary_key, names) VALUES (?1, ?2)")
            .bind(entry.primary)
            .bind(entry.vary.join(","))
            .execute(&mut *tx)
            .await?;
        if let Some(pin) = entry.pin {
            // Should two proxies run with one pin, the answer pinned first is what both go
            // on serving.
            sqlx::query(
                "INSERT INTO pins (pin, key, primary_key, vary, url, status, headers, \
                 body_sha256, body_len, stored_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (pin, key) DO NOTHING",
            )
            .bind(pin)
            .bind(entry.key)
            .bind(entry.primary)
            .bind(entry.vary.join(","))
            .bind(entry.url)
            .bind(i64::from(entry.status))
            .bind(&headers)
            .bind(entry.body_sha256)
            .bind(body_len)
            .bind(stored_at)
            .execute(&mut *tx)
            .await?;
        }
        let orphan = match old {
            Some(old) if old != entry.body_sha256 && unused(&mut tx, &old).await? => Some(old),
            _ => None,
        };
        tx.commit().await?;
        Ok(orphan)
    }

    /// Forgets what was pinned for `pin` (its run is over). Returns the blobs nothing uses
    /// any more, for the caller to delete.
    pub(crate) async fn forget_pin(&self, pin: &str) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let blobs: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT body_sha256 FROM pins WHERE pin = ?1")
                .bind(pin)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM pins WHERE pin = ?1")
            .bind(pin)
            .execute(&mut *tx)
            .await?;
        let mut orphans = Vec::new();
        for blob in blobs {
            if unused(&mut tx, &blob).await? {
                orphans.push(blob);
            }
        }
        tx.commit().await?;
        Ok(orphans)
    }

    /// Forgets every entry and pin whose body is this blob (it failed verification).
    pub(crate) async fn drop_blob(&self, sha256: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut dropped = 0;
        for delete in [
            "DELETE FROM entries WHERE body_sha256 = ?1",
            "DELETE FROM pins WHERE body_sha256 = ?1",
        ] {
            dropped += sqlx::query(delete)
                .bind(sha256)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(dropped)
    }

    /// Adds hit and miss counts per host.
    pub(crate) async fn add_counts(&self, counts: &[(String, u64, u64)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (host, hits, misses) in counts {
            sqlx::query(
                "INSERT INTO host_counters (host, hits, misses) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (host) DO UPDATE SET hits = hits + ?2, misses = misses + ?3",
            )
            .bind(host)
            .bind(i64::try_from(*hits).unwrap_or(i64::MAX))
            .bind(i64::try_from(*misses).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a consistent copy of the whole index to `path` (which must not exist), while
    /// the proxy may go on using it.
    pub(crate) async fn snapshot_into(&self, path: &Path) -> Result<()> {
        sqlx::query("VACUUM INTO ?1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every distinct body the entries use, with its length.
    pub(crate) async fn blobs(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT body_sha256, MAX(body_len) FROM entries GROUP BY body_sha256 ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sha, len)| (sha, non_negative(len)))
            .collect())
    }

    /// Adds the entries (and their `Vary` names) of another index file that this one does
    /// not have; returns how many were added. Existing entries win.
    pub(crate) async fn merge_from(&self, other: &Path) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("ATTACH DATABASE ?1 AS imported")
            .bind(other.to_string_lossy().into_owned())
            .execute(&mut *conn)
            .await?;
        let merged = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let added =
                sqlx::query("INSERT OR IGNORE INTO main.entries SELECT * FROM imported.entries")
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query("INSERT OR IGNORE INTO main.vary SELECT * FROM imported.vary")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(added)
        }
        .await;
        let detached = sqlx::query("DETACH DATABASE imported")
            .execute(&mut *conn)
            .await;
        let added = merged?;
        detached?;
        Ok(added)
    }

    /// Entries, bytes and counters per host, and the totals.
    pub(crate) async fn stats(&self) -> Result<CacheStats> {
        // Stored entries and hit/miss counters live in two tables; one grouped union gives
        // each host's row with both.
        let rows = sqlx::query(
            "SELECT host, SUM(entries) AS entries, SUM(bytes) AS bytes, SUM(hits) AS hits, \
                 SUM(misses) AS misses FROM ( \
                 SELECT host, COUNT(*) AS entries, COALESCE(SUM(body_len), 0) AS bytes, \
                     0 AS hits, 0 AS misses FROM entries GROUP BY host \
                 UNION ALL \
                 SELECT host, 0, 0, hits, misses FROM host_counters) \
             GROUP BY host ORDER BY host",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut hosts = Vec::with_capacity(rows.len());
        for row in rows {
            let mut stats = HostStats::new(row.try_get("host")?);
            stats.entries = non_negative(row.try_get("entries")?);
            stats.bytes = non_negative(row.try_get("bytes")?);
            stats.hits = non_negative(row.try_get("hits")?);
            stats.misses = non_negative(row.try_get("misses")?);
            hosts.push(stats);
        }
        // Disk use counts each blob once, however many entries share it.
        let (blobs, blob_bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(body_len), 0) FROM \
             (SELECT body_sha256, MAX(body_len) AS body_len FROM entries GROUP BY body_sha256)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(CacheStats {
            entries: hosts.iter().map(|h| h.entries).sum(),
            blobs: non_negative(blobs),
            blob_bytes: non_negative(blob_bytes),
            hosts,
        })
    }
}

/// Whether no entry and no pin uses a blob.
async fn unused(conn: &mut SqliteConnection, sha256: &str) -> Result<bool> {
    let users: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM entries WHERE body_sha256 = ?1) \
              + (SELECT COUNT(*) FROM pins WHERE body_sha256 = ?1)",
    )
    .bind(sha256)
    .fetch_one(conn)
    .await?;
    Ok(users == 0)
}

fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Headers as `name:value\n` lines. Header values cannot contain a newline (the HTTP
/// parsers reject control characters), so the format needs no escaping.
fn encode_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

fn decode_headers(bytes: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in bytes.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        // A line that does not parse (a damaged row) is skipped rather than failing the hit.
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", HeaderValue::from_static("a=1; Path=/"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        headers.append("location", HeaderValue::from_static("https://x/y?z=1:2"));
        assert_eq!(decode_headers(&encode_headers(&headers)), headers);
    }

    #[tokio::test]
    async fn insert_lookup_replace_and_stats() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite"), true)
            .await
            .unwrap();
        let headers = HeaderMap::new();
        let mut entry = NewEntry {
            key: "k",
            primary: "p",
            vary: &["user-agent".to_owned()],
            method: "GET",
            url: "https://h/x",
            host: "h",
            status: 200,
            headers: &headers,
            body_sha256: "aa",
            body_len: 5,
            pin: None,
        };
        assert_eq!(index.insert(&entry).await.unwrap(), None);
        assert_eq!(
            index.vary("p", None).await.unwrap(),
            vec!["user-agent".to_owned()]
        );
        let found = index.lookup("k", None).await.unwrap().unwrap();
        assert_eq!((found.status, found.body_len), (200, 5));
        entry.body_sha256 = "bb";
        assert_eq!(index.insert(&entry).await.unwrap(), Some("aa".to_owned()));
        index.add_counts(&[("h".into(), 2, 1)]).await.unwrap();
        index.add_counts(&[("h".into(), 1, 0)]).await.unwrap();
        let stats = index.stats().await.unwrap();
        assert_eq!((stats.entries, stats.blobs, stats.blob_bytes), (1, 1, 5));
        assert_eq!((stats.hosts[0].hits, stats.hosts[0].misses), (3, 1));
        assert_eq!(index.drop_blob("bb").await.unwrap(), 1);
        assert!(index.lookup("k", None).await.unwrap().is_none());
    }

    /// Body hashes of what a lookup finds.
    async fn body(index: &Index, pin: Option<&str>) -> Option<String> {
        let found = index.lookup("k", pin).await.unwrap();
        found.map(|entry| entry.body_sha256)
    }

    #[tokio::test]
    async fn pins_keep_what_their_run_saw() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("index.sqlite"), true)
            .await
            .unwrap();
        let headers = HeaderMap::new();
        let vary = ["accept".to_owned()];
        let mut entry = NewEntry {
            key: "k",
            primary: "p",
            vary: &vary,
            method: "GET",
            url: "https://h/x",
            host: "h",
            status: 200,
            headers: &headers,
            body_sha256: "day1",
            body_len: 4,
            pin: Some("night1"),
        };
        index.insert(&entry).await.unwrap();
        assert_eq!(body(&index, None).await.as_deref(), Some("day1"));
        assert_eq!(body(&index, Some("night1")).await.as_deref(), Some("day1"));
        assert_eq!(body(&index, Some("night2")).await, None);
        // The next night's answer replaces the entry; night 1's pin and its blob stay.
        entry.body_sha256 = "day2";
        entry.pin = Some("night2");
        entry.vary = &[];
        assert_eq!(
            index.insert(&entry).await.unwrap(),
            None,
            "pinned blob kept"
        );
        assert_eq!(body(&index, None).await.as_deref(), Some("day2"));
        assert_eq!(body(&index, Some("night1")).await.as_deref(), Some("day1"));
        assert_eq!(body(&index, Some("night2")).await.as_deref(), Some("day2"));
        // Each pin keeps the Vary names of its own answer; unpinned requests get the latest.
        assert_eq!(index.vary("p", Some("night1")).await.unwrap(), vary);
        assert!(index.vary("p", Some("night2")).await.unwrap().is_empty());
        assert!(index.vary("p", Some("night3")).await.unwrap().is_empty());
        // A pin's first answer stays, even if stored again.
        entry.body_sha256 = "day2-later";
        index.insert(&entry).await.unwrap();
        assert_eq!(body(&index, Some("night2")).await.as_deref(), Some("day2"));
        // A finished run's pins go, with the blobs only they used.
        assert_eq!(index.forget_pin("night1").await.unwrap(), vec!["day1"]);
        assert_eq!(body(&index, Some("night1")).await, None);
        assert_eq!(index.forget_pin("night2").await.unwrap(), vec!["day2"]);
        // A corrupt blob takes its pins with it.
        entry.pin = Some("night3");
        index.insert(&entry).await.unwrap();
        assert_eq!(index.drop_blob("day2-later").await.unwrap(), 2);
        assert_eq!(body(&index, Some("night3")).await, None);
    }
}
