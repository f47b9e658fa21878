//! Crash points for the crash tests. With `GREENLIGHT_FAILPOINT` naming one or more points
//! (comma-separated), the process aborts the first time it reaches one of them: no destructors,
//! no graceful stop, as `kill -9` would end it. Unset (always, outside those tests), reaching a
//! point costs one cached lookup.

use std::time::Duration;

fn configured() -> &'static [String] {
    static POINTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var("GREENLIGHT_FAILPOINT")
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process now if `point` is configured.
pub fn hit(point: &str) {
    hit_after(point, Duration::ZERO);
}

/// Aborts the process `delay` from now if `point` is configured (so that work just started,
/// such as a workspace call, is under way when the process dies).
pub fn hit_after(point: &str, delay: Duration) {
    if !configured().iter().any(|p| p == point) {
        return;
    }
    let point = point.to_owned();
    let die = move || {
        std::thread::sleep(delay);
        eprintln!("failpoint {point}: aborting");
        std::process::abort();
    };
    if delay.is_zero() {
        die();
    } else {
        std::thread::spawn(die);
    }
}
