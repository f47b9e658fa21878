//! When a lazy route's code cannot be fetched.
//!
//! A page's chunk (frontend/src/routes.rs) is fetched the first time the page opens. If that
//! fails — most often because the server was upgraded while this tab was open, so the old
//! build's files are gone — the split loader panics and the wasm stops. The console then reloads
//! the page it was on (the router moves to the new URL only once the new page's code is there),
//! which fetches the build the server has now; the next click opens the page. A second failure
//! within a short while is left on screen (in the browser console), so a missing chunk can never
//! make the page reload in a loop.

/// What the split loader's panic says when a chunk did not load (wasm_split_macros).
const CHUNK_NOT_LOADED: &str = "load callback should succeed";
/// Where the time of the last such reload is kept, for this tab only.
const RELOADED_AT: &str = "greenlight.chunk-reload-at";
/// No second reload within this many milliseconds of the first.
const QUIET_MS: u64 = 30_000;

/// Logs panics to the browser console, and reloads the page once when a chunk did not load.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if message.is_some_and(|message| message.contains(CHUNK_NOT_LOADED)) {
            reload_once();
        }
    }));
}

fn reload_once() {
    let Some(window) = web_sys::window() else {
        return;
    };
    // Whole milliseconds: parsing an integer costs the bundle far less than parsing a float.
    let now = js_sys::Date::now() as u64;
    let storage = window.session_storage().ok().flatten();
    let last = storage
        .as_ref()
        .and_then(|storage| storage.get_item(RELOADED_AT).ok().flatten())
        .and_then(|at| at.parse::<u64>().ok());
    if last.is_some_and(|at| now.saturating_sub(at) < QUIET_MS) {
        return;
    }
    if let Some(storage) = &storage {
        // Best effort: without session storage the page still reloads, just without the guard.
        let _ = storage.set_item(RELOADED_AT, &now.to_string());
    }
    let _ = window.location().reload();
}
