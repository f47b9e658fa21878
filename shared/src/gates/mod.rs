//! Gates: judging a new deployment against the old one on the same window of traffic (issue
//! 12). [`judge`] turns each metric's samples into a verdict and the set into a score and an
//! outcome; [`mann_whitney`] is the statistical test it runs per metric, computed as SciPy
//! does so its answers can be checked against SciPy's; [`predictions`] compares green's answers
//! to mirrored requests with blue's answers to the same requests; [`window`] is what a
//! workspace reports of a window's traffic; [`gate`] is a step's gate and [`gate::evaluate`]
//! turns a window into the report the executor acts on and the console draws ([`series`]);
//! [`report`] reads a report off for the executor, the audit log and the console.

pub mod config;
pub mod gate;
pub mod judge;
pub mod mann_whitney;
pub mod predictions;
pub mod report;
pub mod series;
pub mod window;

pub use gate::{
    evaluate, Gate, GateMetric, GateReport, GateRule, Granularity, JudgedTraffic, MetricSeries,
    SeriesPoint,
};
pub use judge::{
    judge, judge_metric, Direction, Judgement, MetricJudgement, MetricRule, Outcome, Samples,
    Statistic, Thresholds, Tolerance, Verdict,
};
pub use mann_whitney::{mann_whitney_u, Alternative, MannWhitney, Method};
pub use window::{
    is_model_error, is_throttled, AnswerPair, DeploymentSamples, MinuteSample, RequestSample,
    TrafficSamples, WindowSamples,
};
