//! What a submit (a form sent, a confirmed button) shows of its answer. Each submit is a Leptos
//! [`Action`]: `.pending()` says a request is on its way and `.value()` keeps the last answer;
//! these read that answer the way every panel shows it.

use crate::api::ApiError;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::api::Operation;
use uuid::Uuid;

/// A submit's last answer, as the action's `.value()` holds it.
pub type Answer<T> = MappedSignal<Option<Result<T, ApiError>>>;

/// How a panel reads a submit's answer.
pub trait AnswerExt<T> {
    /// Why the last submit was refused, unless another is on its way: its answer will tell
    /// (tracked).
    fn refused(&self, pending: Memo<bool>) -> Option<ApiError>;

    /// `read` of the last answer, if it was accepted (tracked).
    fn accepted<U>(&self, read: impl FnOnce(&T) -> U) -> Option<U>;
}

impl<T: Send + Sync + 'static> AnswerExt<T> for Answer<T> {
    fn refused(&self, pending: Memo<bool>) -> Option<ApiError> {
        if pending.get() {
            return None;
        }
        self.with(|answer| answer.as_ref()?.as_ref().err().cloned())
    }

    fn accepted<U>(&self, read: impl FnOnce(&T) -> U) -> Option<U> {
        self.with(|answer| answer.as_ref()?.as_ref().ok().map(read))
    }
}

/// The operation the last submit started, to follow it (`None` once a later one is refused).
pub fn started(answer: Answer<Operation>) -> Signal<Option<Uuid>> {
    Signal::derive(move || answer.accepted(|op| op.id))
}

/// A form's `on:submit`: sends `request()` through `action` when `valid()` and no earlier send
/// is still on its way (Enter in a field submits even while the button shows it is disabled).
pub fn submit_when_valid<I: 'static, O: 'static>(
    action: Action<I, O>,
    valid: impl Fn() -> bool + Copy + 'static,
    request: impl Fn() -> I + Copy + 'static,
) -> impl Fn(SubmitEvent) + Copy + 'static {
    let pending = action.pending();
    move |ev: SubmitEvent| {
        ev.prevent_default();
        if valid() && !pending.get_untracked() {
            action.dispatch_local(request());
        }
    }
}
