//! Copying a value to the clipboard, with a word on how it went.

use leptos::prelude::*;

/// Copies `text` and then sets `outcome` to "Copied", or to a hint to copy `what` by hand.
pub fn copy(text: &str, what: &'static str, outcome: RwSignal<Option<String>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let promise = window.navigator().clipboard().write_text(text);
    leptos::task::spawn_local(async move {
        let copied = wasm_bindgen_futures::JsFuture::from(promise).await;
        outcome.set(Some(if copied.is_ok() {
            "Copied".to_owned()
        } else {
            format!("Copy failed: select the {what} and copy it")
        }));
    });
}
