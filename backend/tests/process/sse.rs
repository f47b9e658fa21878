//! Reading `/api/v1/events` as it arrives: Server-Sent Events out of a byte stream cut anywhere.

/// One event of the live feed.
#[derive(Debug, Clone)]
pub(super) struct SseEvent {
    /// Its position in the feed (`id:`).
    pub(super) id: i64,
    /// Its kind (`event:`), e.g. `operation` or `change_request`.
    pub(super) name: String,
    /// Its payload (`data:`), JSON.
    pub(super) data: String,
}

impl SseEvent {
    /// True when this is a `name` event about the object with this `id` (the payload's `id`).
    pub(super) fn is(&self, name: &str, id: &str) -> bool {
        self.name == name
            && serde_json::from_str::<serde_json::Value>(&self.data)
                .is_ok_and(|data| data["id"].as_str() == Some(id))
    }
}

/// Turns the bytes of a stream, in whatever pieces they come, into events. Comments (the
/// keep-alives) and blocks without an id are skipped.
#[derive(Debug, Default)]
pub(super) struct SseParser {
    line: Vec<u8>,
    id: Option<i64>,
    name: String,
    data: String,
}

impl SseParser {
    /// Reads `bytes`, calling `on_event` for every event they complete. (Lines are found with
    /// the standard library's `memchr`: 1,000 subscribers in one unoptimised test process must
    /// not be what the benchmark measures.)
    pub(super) fn push(&mut self, mut bytes: &[u8], mut on_event: impl FnMut(SseEvent)) {
        use std::io::BufRead;
        loop {
            let mut line = std::mem::take(&mut self.line);
            let read = bytes.read_until(b'\n', &mut line).unwrap_or(0);
            if read == 0 || line.last() != Some(&b'\n') {
                // A line cut by the transport: the rest comes with the next bytes.
                self.line = line;
                return;
            }
            self.line_done(&String::from_utf8_lossy(&line), &mut on_event);
            line.clear();
            self.line = line;
        }
    }

    fn line_done(&mut self, line: &str, on_event: &mut impl FnMut(SseEvent)) {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            let (name, data) = (
                std::mem::take(&mut self.name),
                std::mem::take(&mut self.data),
            );
            if let Some(id) = self.id.take() {
                on_event(SseEvent { id, name, data });
            }
            return;
        }
        match line.split_once(':') {
            Some(("id", value)) => self.id = value.trim().parse().ok(),
            Some(("event", value)) => self.name = value.trim().to_owned(),
            Some(("data", value)) => self.data.push_str(value.strip_prefix(' ').unwrap_or(value)),
            _ => {}
        }
    }
}
