//! Gates: judging a new deployment against the old one on the same window of traffic (issue
//! 12). [`mann_whitney`] is the statistical test the judge runs per metric, computed as SciPy
//! does so its answers can be checked against SciPy's.

pub mod mann_whitney;

pub use mann_whitney::{mann_whitney_u, Alternative, MannWhitney, Method};
