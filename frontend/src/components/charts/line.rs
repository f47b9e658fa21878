//! A line chart over time in plain SVG: a time axis with clock ticks, a value axis with nice
//! ticks and the unit in its label, one line per named series (a gap where a value is
//! missing), an optional threshold line, and the legend in HTML below — so labels never
//! overlap the lines and screen readers get text. No chart library: the console's bundle stays
//! small and the few shapes it needs are easy to read here.

use super::scale::{clock_label, clock_seconds, nice_ticks, tick_label, time_ticks, Linear};
use leptos::prelude::*;

/// A series' colour. Blue and green go to the deployments a rollout compares (the old one blue,
/// the new one green); the rest tell further deployments apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Blue,
    Green,
    Orange,
    Purple,
    Grey,
}

impl Colour {
    /// Distinct on white and for the common colour-vision deficiencies (blue/orange apart).
    pub fn hex(self) -> &'static str {
        match self {
            Self::Blue => "#1f5fbf",
            Self::Green => "#1a8f4a",
            Self::Orange => "#c25e00",
            Self::Purple => "#7b3fb2",
            Self::Grey => "#667085",
        }
    }

    /// The `i`-th colour for deployments listed in a fixed order.
    pub fn nth(i: usize) -> Self {
        [
            Self::Blue,
            Self::Green,
            Self::Orange,
            Self::Purple,
            Self::Grey,
        ][i % 5]
    }
}

/// One line: its name (a deployment's), colour, and values over time (`None`: no value there,
/// drawn as a gap).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub name: String,
    pub colour: Colour,
    /// Dashed: a second kind of traffic to the same deployment (mirrored copies).
    pub dashed: bool,
    pub points: Vec<(i64, Option<f64>)>,
}

/// A horizontal line at `value`, named in the legend ("tolerated for green").
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub value: f64,
    pub label: String,
}

/// Series longer than this get no hover targets (the DOM would grow for little use).
const MAX_TARGETS: usize = 120;
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 22.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// Runs of consecutive values without a gap, as SVG points.
fn segments(points: &[(i64, Option<f64>)], x: Linear, y: Linear) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (at, value) in points {
        match value {
            Some(v) if v.is_finite() => {
                if let Some(run) = runs.last_mut() {
                    run.push((x.at(*at as f64), y.at(*v)));
                }
            }
            _ => {
                if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
            }
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

fn polyline(run: &[(f64, f64)]) -> String {
    run.iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The time domain: `range` when given, else the series' first and last points.
fn time_domain(series: &[ChartSeries], range: Option<(i64, i64)>) -> Option<(i64, i64)> {
    range.or_else(|| {
        let times = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (lo, hi) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        (lo <= hi).then_some((lo, hi))
    })
}

/// The latest value of each series, for the screen-reader summary.
fn latest(series: &ChartSeries, unit: &str) -> String {
    let last = series.points.iter().rev().find_map(|p| p.1);
    match last {
        Some(v) => format!("{} {v:.1} {unit}", series.name),
        None => format!("{} no data", series.name),
    }
}

/// A legend's sample of a line. SVG attributes, not a `style`: the console's
/// Content-Security-Policy refuses inline styles.
#[component]
fn Swatch(colour: &'static str, dashed: bool) -> impl IntoView {
    view! {
        <svg class="swatch" viewBox="0 0 24 8" aria-hidden="true">
            <line x1="0" x2="24" y1="4" y2="4" stroke=colour stroke-width="3"
                stroke-dasharray=dashed.then_some("6 3") />
        </svg>
    }
}

/// `title` names the quantity ("Latency p95"), `unit` its unit ("ms", "%", "req/min"); the
/// value axis is labelled "title (unit)". `range` fixes the time axis (a gate's window).
#[component]
pub fn LineChart(
    title: String,
    unit: &'static str,
    series: Vec<ChartSeries>,
    #[prop(default = None)] threshold: Option<Threshold>,
    #[prop(default = None)] range: Option<(i64, i64)>,
    #[prop(optional, into)] testid: String,
) -> impl IntoView {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let domain = time_domain(&series, range);
    let (Some((t0, t1)), false) = (domain, values.is_empty()) else {
        return view! {
            <figure class="chart" data-testid=testid>
                <figcaption><strong>{title}</strong> " " <span class="muted">{format!("({unit})")}</span></figcaption>
                <p class="muted chart-empty">"No data in this window yet."</p>
            </figure>
        }
        .into_any();
    };
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some(t) = &threshold {
        high = high.max(t.value);
    }
    let ticks = nice_ticks(low, high, 4);
    let step = ticks
        .get(1)
        .zip(ticks.first())
        .map(|(b, a)| b - a)
        .unwrap_or(1.0);
    let (y_min, y_max) = (ticks[0], *ticks.last().unwrap_or(&1.0));
    let x = Linear {
        d0: t0 as f64,
        d1: t1 as f64,
        r0: LEFT,
        r1: WIDTH - RIGHT,
    };
    let y = Linear {
        d0: y_min,
        d1: y_max,
        r0: HEIGHT - BOTTOM,
        r1: TOP,
    };

    let grid = ticks
        .iter()
        .map(|v| {
            let py = y.at(*v);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=py y2=py />
                <text class="tick" x=LEFT - 6.0 y=py + 4.0 text-anchor="end">{tick_label(*v, step)}</text>
            }
        })
        .collect_view();
    let times = time_ticks(t0, t1, 6)
        .into_iter()
        .map(|t| {
            let px = x.at(t as f64);
            view! {
                <line class="axis" x1=px x2=px y1=HEIGHT - BOTTOM y2=HEIGHT - BOTTOM + 4.0 />
                <text class="tick" x=px y=HEIGHT - 8.0 text-anchor="middle">{clock_label(t)}</text>
            }
        })
        .collect_view();
    let lines = series
        .iter()
        .map(|s| {
            let runs = segments(&s.points, x, y);
            let colour = s.colour.hex();
            let dash = s.dashed.then_some("6 4");
            runs.into_iter()
                .map(|run| {
                    if run.len() == 1 {
                        let (cx, cy) = run[0];
                        view! { <circle cx=cx cy=cy r="3" fill=colour /> }.into_any()
                    } else {
                        view! {
                            <polyline points=polyline(&run) fill="none" stroke=colour stroke-width="2"
                                stroke-dasharray=dash stroke-linejoin="round" />
                        }
                        .into_any()
                    }
                })
                .collect_view()
        })
        .collect_view();
    // Invisible targets over each point: hovering one shows its exact value and time.
    let targets = series
        .iter()
        .filter(|s| s.points.len() <= MAX_TARGETS)
        .flat_map(|s| {
            s.points.iter().filter_map(move |(at, v)| {
                let v = v.filter(|v| v.is_finite())?;
                let tip = format!("{} at {} UTC: {v:.1} {unit}", s.name, clock_seconds(*at));
                Some(view! {
                    <circle class="target" cx=x.at(*at as f64) cy=y.at(v) r="6"><title>{tip}</title></circle>
                })
            })
        })
        .collect_view();
    let threshold_line = threshold.as_ref().map(|t| {
        let py = y.at(t.value);
        view! { <line class="threshold" x1=LEFT x2=WIDTH - RIGHT y1=py y2=py /> }
    });
    let summary = series
        .iter()
        .map(|s| latest(s, unit))
        .collect::<Vec<_>>()
        .join(", ");
    let aria = format!("{title} in {unit} over time: {summary}");
    let axis_label = format!("{title} ({unit})");
    let legend = series
        .iter()
        .map(|s| {
            view! { <li><Swatch colour=s.colour.hex() dashed=s.dashed />{s.name.clone()}</li> }
        })
        .collect_view();
    let threshold_legend = threshold.map(|t| {
        view! { <li><Swatch colour="#b42318" dashed=true />{t.label}</li> }
    });
    view! {
        <figure class="chart" data-testid=testid>
            <figcaption><strong>{title}</strong> " " <span class="muted">{format!("({unit})")}</span></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=aria>
                <text class="axis-label" transform=format!("translate(12 {}) rotate(-90)", (HEIGHT - BOTTOM + TOP) / 2.0)
                    text-anchor="middle">{axis_label}</text>
                {grid}
                <line class="axis" x1=LEFT x2=WIDTH - RIGHT y1=HEIGHT - BOTTOM y2=HEIGHT - BOTTOM />
                {times}
                <text class="tick" x="4" y=HEIGHT - 8.0>"UTC"</text>
                {threshold_line}
                {lines}
                {targets}
            </svg>
            <ul class="chart-legend">{legend}{threshold_legend}</ul>
        </figure>
    }
    .into_any()
}
