//! Data a panel shows, loaded from the API and reloaded when the live feed says it changed.
//!
//! Unlike a resource that goes blank while it reloads, a [`Remote`] keeps showing the last answer
//! until the next one arrives, so a page that reloads on every event never flickers; and only
//! the newest of overlapping loads is kept, so a slow old answer never replaces a fresh one.

use crate::api::ApiError;
use leptos::prelude::*;
use std::future::Future;

#[derive(Debug)]
pub struct Remote<T: Send + Sync + 'static> {
    pub value: RwSignal<Option<Result<T, ApiError>>>,
    seq: StoredValue<u64>,
}

impl<T: Send + Sync + 'static> Clone for Remote<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Remote<T> {}

impl<T: Clone + Send + Sync + 'static> Remote<T> {
    pub fn new() -> Self {
        Self {
            value: RwSignal::new(None),
            seq: StoredValue::new(0),
        }
    }

    /// Starts a load; its answer replaces the shown one unless a newer load started meanwhile.
    pub fn load(&self, answer: impl Future<Output = Result<T, ApiError>> + 'static) {
        let Some(seq) = self.seq.try_update_value(|s| {
            *s += 1;
            *s
        }) else {
            return;
        };
        let this = *self;
        leptos::task::spawn_local(async move {
            let result = answer.await;
            if this.seq.try_get_value() == Some(seq) {
                this.value.try_set(Some(result));
            }
        });
    }

    /// Shows `value` now, in place of what a load still on its way would bring.
    pub fn show(&self, value: T) {
        self.seq.try_update_value(|s| *s += 1);
        self.value.try_set(Some(Ok(value)));
    }

    /// The loaded value, if the last load succeeded (tracked).
    pub fn ok(&self) -> Option<T> {
        self.value
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok().cloned()))
    }

    /// The last load's error, if it failed (tracked).
    pub fn error(&self) -> Option<ApiError> {
        self.value
            .with(|v| v.as_ref().and_then(|r| r.as_ref().err().cloned()))
    }
}

/// An API error shown where the data would have been: never a blank page. A server error comes
/// with the request id its message asks people to quote.
#[component]
pub fn ErrorNote(
    error: ApiError,
    /// The note's `data-testid`.
    #[prop(default = "error")]
    testid: &'static str,
) -> impl IntoView {
    let quote = error.request_id_to_quote().map(|id| {
        view! {
            <span class="request-id">
                " Request id: " <code data-testid="error-request-id">{id.to_owned()}</code>
            </span>
        }
    });
    view! { <p class="error" role="alert" data-testid=testid>{error.to_string()}{quote}</p> }
}
