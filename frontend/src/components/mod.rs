//! Pieces more than one page uses.

pub mod change_request;
pub mod charts;
pub mod clipboard;
pub mod confirm_delete;
pub mod freeze_banner;
pub mod gate_card;
pub mod list_card;
pub mod operation_progress;
pub mod plan_editor;
pub mod traffic_bar;
pub mod traffic_editor;
pub mod traffic_health;
