//! Pieces more than one page uses.

pub mod change_request;
pub mod confirm_delete;
pub mod operation_progress;
pub mod plan_editor;
pub mod sparkline;
pub mod traffic_bar;
pub mod traffic_editor;
