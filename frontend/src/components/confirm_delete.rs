//! Deleting is final, so the user types the name of what goes: a stray click or Enter can't.
//! And it is a change request like any other (issue 11): the user says why, and a second person
//! approves before anything is deleted.

use leptos::prelude::*;
use shared::api::change_requests::DeleteChangeRequest;

/// A "Delete…" button that opens a box asking for `name` to be typed and a reason. `blocked`
/// holds the reason deleting is not allowed now (e.g. the deployment still takes traffic), shown
/// instead; while `busy` (a request about it is on its way) the button is disabled.
/// `on_confirm` gets the reason.
#[component]
pub fn ConfirmDelete(
    /// What is deleted, for the words: "deployment" or "endpoint".
    what: &'static str,
    name: String,
    #[prop(into)] blocked: Signal<Option<String>>,
    #[prop(into)] busy: Signal<bool>,
    on_confirm: Callback<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    // Opening the box moves the keyboard focus into it; Escape closes it.
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let typed = RwSignal::new(String::new());
    let expected = name.clone();
    let reason = RwSignal::new(String::new());
    let matches = Memo::new(move |_| typed.get() == expected);
    // The reason's rule, as the API applies it.
    let reason_ok = Memo::new(move |_| {
        DeleteChangeRequest {
            reason: reason.get(),
            break_glass: false,
        }
        .check()
        .is_ok()
    });
    let testid = format!("delete-{what}-{name}");
    let aria = format!("Delete {what} {name}");
    let prompt = format!("Type {name} to delete this {what}");
    let confirm_label = format!("Request deletion of {what} {name}");
    view! {
        <span class="confirm-delete">
            <button type="button" class="danger-outline small" data-testid=testid aria-label=aria
                aria-expanded=move || open.get().to_string()
                disabled=move || busy.get()
                on:click=move |_| {
                    typed.set(String::new());
                    reason.set(String::new());
                    open.update(|o| *o = !*o)
                }>
                "Delete…"
            </button>
            {move || open.get().then(|| match blocked.get() {
                Some(reason) => view! {
                    <p class="error" role="alert" data-testid="delete-blocked">{reason}</p>
                }.into_any(),
                None => view! {
                    <span class="confirm-box" role="group" aria-label=prompt.clone()>
                        <label>
                            {prompt.clone()}
                            <input data-testid="confirm-name" autocomplete="off" bind:value=typed node_ref=input
                                on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) } />
                        </label>
                        <label>
                            "Reason (required)"
                            <input data-testid="confirm-reason" autocomplete="off" bind:value=reason
                                on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) } />
                        </label>
                        <button type="button" class="danger" data-testid="confirm-delete"
                            aria-label=confirm_label.clone()
                            disabled=move || !matches.get() || !reason_ok.get()
                            on:click=move |_| {
                                open.set(false);
                                on_confirm.run(reason.get_untracked().trim().to_owned())
                            }>
                            "Request deletion"
                        </button>
                        <button type="button" class="secondary" data-testid="cancel-delete"
                            on:click=move |_| open.set(false)>"Cancel"</button>
                    </span>
                }.into_any(),
            })}
        </span>
    }
}
