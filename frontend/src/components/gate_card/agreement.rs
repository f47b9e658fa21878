//! The prediction diff: how far green's answers to mirrored requests agree with blue's live
//! answers to the same requests, and a few that differ, as they were (cut) — a new model is
//! usually meant to answer differently, so people look at how.

use leptos::prelude::*;
use shared::gates::predictions::Agreement;

/// "12 of 20 agree (60.0 %)".
fn share(a: &Agreement) -> String {
    match a.share {
        Some(s) => format!(
            "{} of {} agree ({:.1} %)",
            a.agreeing,
            a.requests,
            s * 100.0
        ),
        None => "no mirrored answers compared yet".into(),
    }
}

#[component]
pub fn AgreementView(agreement: Agreement, control: String, experiment: String) -> impl IntoView {
    let samples = agreement.samples.clone();
    let shown = samples.len();
    view! {
        <div class="gate-agreement" data-testid="gate-agreement">
            <h4>"Prediction diff: " {experiment.clone()} " (mirrored) vs " {control.clone()} " (live)"</h4>
            <dl class="facts">
                <div><dt>"Answers that agree"</dt><dd data-testid="gate-agreement-share">{share(&agreement)}</dd></div>
                <div><dt>"Largest absolute difference"</dt><dd>{format!("{:.4}", agreement.max_abs_diff)}</dd></div>
                <div><dt>"Mean absolute difference"</dt><dd>{format!("{:.4}", agreement.mean_abs_diff)}</dd></div>
            </dl>
            {(shown > 0).then(|| view! {
                <details>
                    <summary>{format!("{shown} differing answer{} (cut to 200 characters)", if shown == 1 { "" } else { "s" })}</summary>
                    {samples.into_iter().map(|s| view! {
                        <dl class="sample" data-testid="gate-agreement-sample">
                            <dt>"First differs at"</dt><dd><code>{s.first_difference}</code></dd>
                            <dt>{format!("Live ({control})")}</dt><dd><pre>{s.live}</pre></dd>
                            <dt>{format!("Mirrored ({experiment})")}</dt><dd><pre>{s.mirrored}</pre></dd>
                        </dl>
                    }).collect_view()}
                </details>
            })}
        </div>
    }
}
