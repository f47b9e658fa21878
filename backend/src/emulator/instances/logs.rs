//! The last lines an instance printed, kept for `getLogs`.

use crate::emulator::locks::lock;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Lines kept per deployment; older ones are dropped first.
const CAPACITY: usize = 5000;

/// A bounded, shared buffer of log lines from all instances of one deployment.
#[derive(Debug, Default)]
pub struct LogBuffer {
    lines: Mutex<VecDeque<String>>,
}

impl LogBuffer {
    pub fn push(&self, line: String) {
        let mut lines = lock(&self.lines);
        if lines.len() == CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `tail` lines (all of them with `None`), oldest first.
    pub fn tail(&self, tail: Option<usize>) -> Vec<String> {
        let lines = lock(&self.lines);
        let skip = tail.map_or(0, |t| lines.len().saturating_sub(t));
        lines.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_returns_the_newest_lines_oldest_first() {
        let logs = LogBuffer::default();
        for i in 0..5 {
            logs.push(format!("line {i}"));
        }
        assert_eq!(logs.tail(Some(2)), ["line 3", "line 4"]);
        assert_eq!(logs.tail(None).len(), 5);
        assert_eq!(logs.tail(Some(50)).len(), 5);
    }

    #[test]
    fn the_buffer_keeps_only_the_newest_lines() {
        let logs = LogBuffer::default();
        for i in 0..CAPACITY + 10 {
            logs.push(i.to_string());
        }
        let all = logs.tail(None);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0], "10");
    }
}
