//! A cap on how many expensive jobs (password checks) run at once in this process, counting the
//! most that ever ran together, so a test (and an operator reading logs) can see the cap hold.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

#[derive(Debug)]
pub struct Turns {
    slots: Semaphore,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// One job's turn; the next waiting job goes when it is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    turns: &'a Turns,
    _permit: SemaphorePermit<'a>,
}

impl Turns {
    pub const fn new(at_once: usize) -> Self {
        Self {
            slots: Semaphore::const_new(at_once),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Waits for a free slot.
    pub async fn take(&self) -> Result<Turn<'_>, AcquireError> {
        let permit = self.slots.acquire().await?;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Ok(Turn {
            turns: self,
            _permit: permit,
        })
    }

    /// The most jobs that held a turn at the same time since the process started.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_than_the_cap_run_at_once_and_the_rest_wait_their_turn() {
        let turns = Arc::new(Turns::new(4));
        let jobs: Vec<_> = (0..20)
            .map(|_| {
                let turns = Arc::clone(&turns);
                tokio::spawn(async move {
                    let _turn = turns.take().await.expect("open");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                })
            })
            .collect();
        for job in jobs {
            job.await.expect("job");
        }
        assert_eq!(turns.peak(), 4, "twenty jobs filled every slot, never more");
        assert_eq!(
            turns.running.load(Ordering::SeqCst),
            0,
            "every turn was given back"
        );
    }
}
