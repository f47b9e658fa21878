//! What every list panel shows of its [`Remote`]: the load's error where the list would be, a
//! note when it loaded empty, else the items (usually a [`ListTable`]).

use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;

/// The note shown when a list loaded empty: its `data-testid` and text.
#[derive(Debug, Clone, Copy)]
pub struct Empty(pub &'static str, pub &'static str);

/// The body of a list panel: the error of the last load; once loaded, the [`Empty`] note when
/// `items` of it is empty, else `show` of the items.
pub fn listing<T, I>(
    list: Remote<T>,
    items: fn(T) -> Vec<I>,
    empty: Empty,
    show: impl Fn(Vec<I>) -> AnyView + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    I: 'static,
{
    let body = move || {
        list.ok().map(|loaded| {
            let items = items(loaded);
            if items.is_empty() {
                let Empty(testid, text) = empty;
                view! { <p class="muted" data-testid=testid>{text}</p> }.into_any()
            } else {
                show(items)
            }
        })
    };
    view! {
        {move || list.error().map(|error| view! { <ErrorNote error=error /> })}
        {body}
    }
}

/// A list's table, stacked into cards on a narrow screen: `columns` as headers, `children` the
/// rows.
#[component]
pub fn ListTable(
    /// The table's `data-testid`.
    testid: &'static str,
    columns: &'static [&'static str],
    /// The column drawn wide, if any.
    #[prop(optional)]
    wide: &'static str,
    children: Children,
) -> impl IntoView {
    let headers = columns
        .iter()
        .map(|&column| {
            let class = (column == wide).then_some("wide");
            view! { <th scope="col" class=class>{column}</th> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="stack" data-testid=testid>
                <thead><tr>{headers}</tr></thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
