//! What the executor, the audit log and the console read off a [`GateReport`]: whether a
//! critical metric failed (roll back at once), a one-line summary, and the report without
//! callers' answers.

use super::config::Gate;
use super::gate::GateReport;
use super::judge::Verdict;

impl GateReport {
    /// Whether a critical metric of `gate` failed: the gate fails whatever the rest shows, so
    /// the rollout rolls back at once instead of serving a broken model to the window's end.
    pub fn failed_critically(&self, gate: &Gate) -> bool {
        gate.rules
            .iter()
            .filter(|rule| rule.critical && !rule.report_only)
            .any(|rule| {
                self.judgement.metrics.iter().any(|m| {
                    m.name == rule.metric.as_str()
                        && matches!(m.verdict, Verdict::High | Verdict::Low)
                })
            })
    }

    /// One line for a timeline, an audit event or a change request: the outcome, the score and
    /// the metrics that did not pass.
    pub fn summary(&self) -> String {
        let outcome = self.judgement.outcome.as_str();
        let score = self
            .judgement
            .score
            .map_or_else(|| "no score".to_owned(), |s| format!("score {s:.0}"));
        let failing: Vec<String> = self
            .judgement
            .metrics
            .iter()
            .filter(|m| matches!(m.verdict, Verdict::High | Verdict::Low))
            .map(|m| {
                let value =
                    |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
                format!(
                    "{} {} vs {}",
                    m.name,
                    value(m.experiment_value),
                    value(m.control_value)
                )
            })
            .collect();
        if failing.is_empty() {
            format!("gate {outcome} ({score})")
        } else {
            format!("gate {outcome} ({score}; {})", failing.join(", "))
        }
    }

    /// The report without the differing answers' samples: they hold callers' requests, so
    /// the audit log and viewers get the numbers only.
    pub fn without_samples(mut self) -> Self {
        if let Some(agreement) = &mut self.agreement {
            agreement.samples.clear();
        }
        self
    }
}
