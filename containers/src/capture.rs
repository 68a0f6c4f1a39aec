//! Bounded capture of a command's output.
//!
//! Nix prints the error that matters last, after any amount of warnings and traces, and a
//! hostile flake can print forever. So a capture keeps the first half of its budget and the
//! last half, counts everything, and never holds more than the budget (plus one read).

use std::fmt;

/// Output kept from one stream: the head and the tail, and how much there was in all.
#[derive(Clone, Default)]
pub struct Captured {
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Start of the live tail inside `tail` (bytes before it are dropped lazily).
    tail_start: usize,
    cap: usize,
    total: u64,
}

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured")
            .field("kept", &self.kept_len())
            .field("total", &self.total)
            .finish()
    }
}

impl Captured {
    pub fn with_cap(cap: usize) -> Captured {
        Captured {
            cap,
            ..Captured::default()
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_cap = self.cap / 2;
        if self.head.len() < head_cap {
            let take = bytes.len().min(head_cap - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if bytes.is_empty() {
            return;
        }
        let tail_cap = self.cap - head_cap;
        self.tail.extend_from_slice(bytes);
        let live = self.tail.len() - self.tail_start;
        if live > tail_cap {
            self.tail_start += live - tail_cap;
        }
        // Compact once the dead prefix outgrows the budget: amortised O(1) per byte.
        if self.tail_start > tail_cap.max(4096) {
            self.tail.drain(..self.tail_start);
            self.tail_start = 0;
        }
    }

    /// All bytes written to the stream.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn kept_len(&self) -> usize {
        self.head.len() + self.tail.len() - self.tail_start
    }

    /// Whether some of the output was dropped.
    pub fn truncated(&self) -> bool {
        (self.kept_len() as u64) < self.total
    }

    /// What was kept, with a marker where bytes were dropped.
    pub fn bytes(&self) -> Vec<u8> {
        let tail = &self.tail[self.tail_start..];
        let mut out = Vec::with_capacity(self.kept_len() + 64);
        out.extend_from_slice(&self.head);
        if self.truncated() {
            let dropped = self.total - self.kept_len() as u64;
            out.extend_from_slice(format!("\n[gnfc: {dropped} bytes omitted]\n").as_bytes());
        }
        out.extend_from_slice(tail);
        out
    }

    /// The kept bytes as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Captured::with_cap(100);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.bytes(), b"hello world");
        assert!(!c.truncated());
    }

    #[test]
    fn keeps_head_and_tail_and_counts_all() {
        let mut c = Captured::with_cap(10);
        for chunk in [&b"abcdefgh"[..], b"ijklmnop", b"qrstuvwxyz"] {
            c.push(chunk);
        }
        assert_eq!(c.total(), 26);
        let text = c.text();
        assert!(text.starts_with("abcde"), "{text}");
        assert!(text.ends_with("vwxyz"), "{text}");
        assert!(text.contains("[gnfc: 16 bytes omitted]"), "{text}");
    }

    #[test]
    fn memory_stays_bounded_under_endless_output() {
        let mut c = Captured::with_cap(1024);
        let chunk = [b'x'; 8192];
        for _ in 0..10_000 {
            c.push(&chunk);
        }
        assert_eq!(c.total(), 81_920_000);
        assert!(c.tail.capacity() < 64 * 1024, "{}", c.tail.capacity());
        assert_eq!(c.kept_len(), 1024);
    }
}
