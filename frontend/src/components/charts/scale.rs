//! The arithmetic of a chart, kept apart from drawing: "nice" value ticks (1, 2, 2.5, 5 × 10ⁿ),
//! time ticks on whole minutes, and linear maps from data to pixels. Plain functions, so a
//! chart's look never hides a wrong axis.

/// Maps `[d0, d1]` onto `[r0, r1]` linearly. A zero-width domain maps to the middle of the range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linear {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Linear {
    pub fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span.abs() < f64::EPSILON {
            return (self.r0 + self.r1) / 2.0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// The nice step nearest to `raw` (1, 2, 2.5 or 5 × 10ⁿ).
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = match fraction {
        f if f <= 1.0 => 1.0,
        f if f <= 2.0 => 2.0,
        f if f <= 2.5 => 2.5,
        f if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * magnitude
}

/// About `count` nice ticks covering `[min, max]`, from a multiple of the step at or below `min`
/// to one at or above `max`. The axis always starts at 0 for non-negative data: a chart of
/// error rates or latencies that starts at 180 ms makes 5 ms look like a cliff.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let min = if min >= 0.0 { 0.0 } else { min };
    let max = if max > min { max } else { min + 1.0 };
    let step = nice_step((max - min) / count.max(1) as f64);
    let first = (min / step).floor() * step;
    let mut ticks = Vec::new();
    let mut i = 0;
    loop {
        let v = first + step * i as f64;
        // Rounded, so 0.1 + 0.2 never prints as 0.30000000000000004.
        ticks.push((v / step).round() * step);
        if v >= max - step * 1e-9 || i > 50 {
            break;
        }
        i += 1;
    }
    ticks
}

/// A tick label with as many decimals as the step needs ("0.5", "2.5", "100").
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = (0..6)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(6) as usize;
    format!("{v:.decimals$}")
}

/// Minute steps a time axis may use.
const MINUTE_STEPS: [i64; 9] = [1, 2, 5, 10, 15, 20, 30, 60, 120];

/// Ticks on whole minutes in `[start_ms, end_ms]`, at most about `count` of them; seconds
/// steps (10 s, 15 s, 30 s) for windows shorter than a few minutes.
pub fn time_ticks(start_ms: i64, end_ms: i64, count: usize) -> Vec<i64> {
    let span = (end_ms - start_ms).max(1);
    let count = count.max(1) as i64;
    let seconds = [10_000, 15_000, 30_000];
    let step = seconds
        .into_iter()
        .chain(MINUTE_STEPS.iter().map(|m| m * 60_000))
        .find(|step| span / step <= count)
        .unwrap_or(240 * 60_000);
    let first = start_ms.div_euclid(step) * step + if start_ms % step == 0 { 0 } else { step };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= end_ms)
        .collect()
}

/// "14:05" (UTC, as every time in the console), "14:05:30" when the tick falls inside a minute.
pub fn clock_label(ms: i64) -> String {
    let (h, m, s) = time_of_day(ms);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// "14:05:30" (UTC), for a window's ends.
pub fn clock_seconds(ms: i64) -> String {
    let (h, m, s) = time_of_day(ms);
    format!("{h:02}:{m:02}:{s:02}")
}

/// Hours, minutes and seconds of the UTC day.
fn time_of_day(ms: i64) -> (i64, i64, i64) {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    (seconds / 3600, seconds / 60 % 60, seconds % 60)
}
