//! An endpoint's split drawn as one bar: live shares as solid segments that fill the bar, the
//! mirror share as a dashed strip under it (a copy of live requests, not a part of them).

use leptos::prelude::*;
use shared::api::Split;

const PALETTE: [&str; 6] = [
    "#2f6fde", "#1f8a4c", "#c26a00", "#8a3ffc", "#d12771", "#00838f",
];

/// A stable colour per deployment name, so "blue" looks the same on every page.
pub fn colour(name: &str) -> &'static str {
    match name {
        "blue" => PALETTE[0],
        "green" => PALETTE[1],
        _ => {
            let hash = name
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            PALETTE[hash as usize % PALETTE.len()]
        }
    }
}

/// "blue 90 % · green 10 % · mirror green 10 %" — the bar in words, for screen readers and tests.
pub fn describe(traffic: &Split, mirror: &Split) -> String {
    let mut parts: Vec<String> = traffic
        .iter()
        .filter(|(_, &share)| share > 0)
        .map(|(name, share)| format!("{name} {share} %"))
        .collect();
    if parts.is_empty() {
        parts.push("no live traffic".into());
    }
    parts.extend(
        mirror
            .iter()
            .filter(|(_, &share)| share > 0)
            .map(|(name, share)| format!("mirror {name} {share} %")),
    );
    parts.join(" · ")
}

#[component]
pub fn TrafficBar(traffic: Split, mirror: Split) -> impl IntoView {
    let label = describe(&traffic, &mirror);
    let mut x = 0i64;
    let live: Vec<_> = traffic
        .iter()
        .filter(|(_, &share)| share > 0)
        .map(|(name, &share)| {
            let start = x;
            x += share;
            view! {
                <rect x=start y="0" width=share height="8" fill=colour(name)>
                    <title>{format!("{name}: {share} % live")}</title>
                </rect>
            }
        })
        .collect();
    let mirrored: Vec<_> = mirror
        .iter()
        .filter(|(_, &share)| share > 0)
        .map(|(name, &share)| {
            view! {
                <line x1="0" y1="11" x2=share y2="11" stroke=colour(name) stroke-width="2"
                    stroke-dasharray="2 1">
                    <title>{format!("{name}: {share} % mirrored")}</title>
                </line>
            }
        })
        .collect();
    view! {
        <div class="traffic-bar">
            <svg viewBox="0 0 100 12" preserveAspectRatio="none" role="img" aria-label=label.clone()>
                <rect x="0" y="0" width="100" height="8" fill="#e6e9ef" />
                {live}
                {mirrored}
            </svg>
            <span class="legend" data-testid="traffic-legend">{label}</span>
        </div>
    }
}
