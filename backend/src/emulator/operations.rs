//! Long-running operations: each has an id whose status clients poll at the
//! `Azure-AsyncOperation` (status) or `Location` (result) URL.

use crate::emulator::locks::lock;
use chrono::Utc;
use shared::arm::{ArmError, OperationState, OperationStatus};
use std::collections::HashMap;
use std::sync::Mutex;

/// Operations started by this emulator, by id.
#[derive(Debug, Default)]
pub struct Operations {
    statuses: Mutex<HashMap<String, OperationStatus>>,
}

impl Operations {
    /// Registers a running operation and returns its id.
    pub fn start(&self) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let status = OperationStatus {
            id: Some(id.clone()),
            name: Some(id.clone()),
            status: OperationState::InProgress,
            start_time: Some(now()),
            end_time: None,
            error: None,
            extra: Default::default(),
        };
        self.lock().insert(id.clone(), status);
        id
    }

    /// Registers an operation that already succeeded (the work was done in place) and
    /// returns its id, for clients that poll every write.
    pub fn succeeded(&self) -> String {
        let id = self.start();
        self.finish(&id, Ok(()));
        id
    }

    /// Marks `id` Succeeded, or Failed with `error`.
    pub fn finish(&self, id: &str, outcome: Result<(), ArmError>) {
        if let Some(status) = self.lock().get_mut(id) {
            status.end_time = Some(now());
            match outcome {
                Ok(()) => status.status = OperationState::Succeeded,
                Err(error) => {
                    status.status = OperationState::Failed;
                    status.error = Some(error);
                }
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<OperationStatus> {
        self.lock().get(id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, OperationStatus>> {
        lock(&self.statuses)
    }
}

/// ARM's time format.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_runs_then_ends_with_its_outcome() {
        let ops = Operations::default();
        let ok = ops.start();
        let failed = ops.start();
        assert_eq!(
            ops.get(&ok).map(|s| s.status),
            Some(OperationState::InProgress)
        );
        ops.finish(&ok, Ok(()));
        ops.finish(
            &failed,
            Err(ArmError::new("DeploymentFailed", "init() raised")),
        );
        assert_eq!(
            ops.get(&ok).map(|s| s.status),
            Some(OperationState::Succeeded)
        );
        let failed = ops.get(&failed).expect("known");
        assert_eq!(failed.status, OperationState::Failed);
        assert_eq!(
            failed.error.map(|e| e.message),
            Some("init() raised".into())
        );
        assert!(ops.get("nope").is_none());
        let done = ops.succeeded();
        assert_eq!(
            ops.get(&done).map(|s| s.status),
            Some(OperationState::Succeeded)
        );
    }
}
