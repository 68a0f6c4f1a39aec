//! Server-sent events, parsed incrementally from the bytes of a response as they arrive.

/// One event: its `event:` name (`message` when absent) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub data: String,
}

/// Buffers bytes until a blank line ends an event.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    /// How far `buffer` was already searched for a blank line.
    scanned: usize,
}

impl SseParser {
    /// Feeds bytes; returns every event they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = self.scanned.saturating_sub(3).max(start);
        while i < self.buffer.len() {
            let end = if self.buffer[i..].starts_with(b"\n\n") {
                Some(2)
            } else if self.buffer[i..].starts_with(b"\r\n\r\n") {
                Some(4)
            } else {
                None
            };
            match end {
                Some(len) => {
                    if let Some(event) = parse_block(&self.buffer[start..i]) {
                        events.push(event);
                    }
                    i += len;
                    start = i;
                }
                None => i += 1,
            }
        }
        self.buffer.drain(..start);
        self.scanned = self.buffer.len();
        events
    }

    /// Whether bytes of an unfinished event are waiting.
    pub fn has_partial(&self) -> bool {
        self.buffer.iter().any(|b| !b.is_ascii_whitespace())
    }
}

fn parse_block(block: &[u8]) -> Option<Event> {
    let text = String::from_utf8_lossy(block);
    let mut name = None;
    let mut data: Option<String> = None;
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            // Comments (`: keep-alive`), `id:` and `retry:` mean nothing to a search.
            _ => {}
        }
    }
    if name.is_none() && data.is_none() {
        return None;
    }
    Some(Event {
        name: name.unwrap_or_else(|| "message".to_owned()),
        data: data.unwrap_or_default(),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut p = SseParser::default();
        let input = b"event: matches\ndata: [1,\ndata: 2]\n\n: ping\n\nevent: done\r\ndata: {}\r\n\r\nevent: x";
        let mut events = Vec::new();
        for chunk in input.chunks(3) {
            events.extend(p.push(chunk));
        }
        assert_eq!(
            events,
            [
                Event {
                    name: "matches".into(),
                    data: "[1,\n2]".into()
                },
                Event {
                    name: "done".into(),
                    data: "{}".into()
                },
            ]
        );
        assert!(p.has_partial());
    }
}
