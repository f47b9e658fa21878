//! The Mann–Whitney U test (Wilcoxon rank-sum), as the gates' judge uses it to compare a
//! metric's samples of the new deployment (`x`) with the old one's (`y`), computed exactly as
//! SciPy's `scipy.stats.mannwhitneyu` does by default, so its results can be checked against
//! SciPy's (`scripts/mann-whitney-reference.py` prints the reference values the tests hold):
//!
//! - U is x's statistic: the sum of x's ranks in the pooled sample (ties get their average rank)
//!   minus n₁(n₁+1)/2.
//! - With at most 8 values on one side and no ties, the p-value comes from U's exact null
//!   distribution; otherwise from the normal approximation with the tie correction and a
//!   continuity correction of ½.

/// Which difference the test looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// x differs from y, either way.
    TwoSided,
    /// x tends to be larger than y (for a gate: higher latency or error is worse).
    Greater,
    /// x tends to be smaller than y.
    Less,
}

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    Asymptotic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of x.
    pub u: f64,
    pub p_value: f64,
    pub method: Method,
}

/// The test of `x` against `y`; `None` when either sample is empty or holds a NaN.
pub fn mann_whitney_u(x: &[f64], y: &[f64], alternative: Alternative) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (n1, n2) = (x.len(), y.len());
    let (rank_sum_x, tie_groups) = ranks(x, y);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = rank_sum_x - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let (u, factor) = match alternative {
        Alternative::Greater => (u1, 1.0),
        Alternative::Less => (u2, 1.0),
        Alternative::TwoSided => (u1.max(u2), 2.0),
    };
    let ties = tie_groups.iter().any(|&t| t > 1);
    let exact = (n1 <= 8 || n2 <= 8) && !ties;
    let p = if exact {
        exact_sf(u.round() as usize, n1.min(n2), n1.max(n2))
    } else {
        let n = n1f + n2f;
        let tie_term: f64 = tie_groups
            .iter()
            .map(|&t| (t as f64).powi(3) - t as f64)
            .sum();
        let s = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
        let z = (u - n1f * n2f / 2.0 - 0.5) / s;
        if z.is_nan() {
            1.0
        } else {
            normal_sf(z)
        }
    };
    Some(MannWhitney {
        u: u1,
        p_value: (p * factor).clamp(0.0, 1.0),
        method: if exact {
            Method::Exact
        } else {
            Method::Asymptotic
        },
    })
}

/// The sum of x's ranks in the pooled sample (average ranks for ties), and the size of every
/// group of equal values.
fn ranks(x: &[f64], y: &[f64]) -> (f64, Vec<usize>) {
    let mut pooled: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum_x = 0.0;
    let mut groups = Vec::new();
    let mut start = 0;
    while start < pooled.len() {
        let mut end = start + 1;
        while end < pooled.len() && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        rank_sum_x += rank * pooled[start..end].iter().filter(|(_, is_x)| *is_x).count() as f64;
        groups.push(end - start);
        start = end;
    }
    (rank_sum_x, groups)
}

/// P(U ≥ `u`) under the null hypothesis for samples of sizes `m` ≤ `n` without ties: the share
/// of the C(m+n, m) equally likely rank arrangements whose U is at least `u`.
fn exact_sf(u: usize, m: usize, n: usize) -> f64 {
    let max_u = m * n;
    if u > max_u {
        return 0.0;
    }
    // table[i][k]: arrangements of i values of the smaller sample among the `larger` values so
    // far with U = k, by the classic recurrence on who holds the largest value:
    // c(i, j, k) = c(i - 1, j, k - j) + c(i, j - 1, k). Rows go up, so row i - 1 already holds
    // j when row i is computed, and row i still holds j - 1.
    let mut table = vec![vec![0.0f64; max_u + 1]; m + 1];
    for row in table.iter_mut() {
        row[0] = 1.0;
    }
    for larger in 1..=n {
        for smaller in 1..=m {
            let mut next = vec![0.0f64; max_u + 1];
            for k in 0..=smaller * larger {
                let mut c = table[smaller][k]; // the largest value is the larger sample's
                if k >= larger {
                    c += table[smaller - 1][k - larger]; // it is the smaller sample's
                }
                next[k] = c;
            }
            table[smaller] = next;
        }
    }
    let counts = &table[m];
    let total: f64 = counts.iter().sum();
    counts[u..].iter().sum::<f64>() / total
}

/// P(Z > z) for a standard normal Z.
fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Chebyshev fit, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(name: &str) -> (Vec<f64>, Vec<f64>) {
        match name {
            "equal" => (
                (1..=10).map(f64::from).collect(),
                (1..=10).map(|v| f64::from(v) + 0.5).collect(),
            ),
            "shifted" => (
                (0..30).map(|i| f64::from(20 + i)).collect(),
                (0..30).map(|i| f64::from(10 + i)).collect(),
            ),
            "heavy_tailed" => (
                vec![
                    1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 50.0, 120.0, 900.0,
                ],
                vec![
                    1.05, 1.15, 1.25, 1.35, 1.45, 1.55, 1.65, 1.75, 1.85, 1.95, 2.05, 2.15,
                ],
            ),
            "many_ties" => (
                [vec![1.0; 10], vec![2.0; 10], vec![3.0; 5]].concat(),
                [vec![1.0; 15], vec![2.0; 8], vec![3.0; 2]].concat(),
            ),
            "tiny" => (vec![3.0, 4.0, 5.0], vec![1.0, 2.0]),
            "tiny_exact" => (
                vec![8.1, 9.4, 7.7, 10.2, 9.9],
                vec![6.0, 7.1, 5.5, 6.8, 7.4, 5.9],
            ),
            other => panic!("no data set {other}"),
        }
    }

    /// `scripts/mann-whitney-reference.py` with SciPy 1.17.1.
    const SCIPY: [(&str, &str, f64, f64); 18] = [
        ("equal", "two-sided", 45.0, 0.7337299956962472),
        ("equal", "greater", 45.0, 0.6612075210237622),
        ("equal", "less", 45.0, 0.3668649978481236),
        ("shifted", "two-sided", 700.0, 0.00022448380595775603),
        ("shifted", "greater", 700.0, 0.00011224190297887802),
        ("shifted", "less", 700.0, 0.9998941076560912),
        ("heavy_tailed", "two-sided", 72.0, 1.0),
        ("heavy_tailed", "greater", 72.0, 0.5115148723390122),
        ("heavy_tailed", "less", 72.0, 0.5115148723390122),
        ("many_ties", "two-sided", 385.0, 0.12424786832515933),
        ("many_ties", "greater", 385.0, 0.062123934162579664),
        ("many_ties", "less", 385.0, 0.9404468071218393),
        ("tiny", "two-sided", 6.0, 0.2),
        ("tiny", "greater", 6.0, 0.1),
        ("tiny", "less", 6.0, 1.0),
        ("tiny_exact", "two-sided", 30.0, 0.004329004329004329),
        ("tiny_exact", "greater", 30.0, 0.0021645021645021645),
        ("tiny_exact", "less", 30.0, 1.0),
    ];

    #[test]
    fn u_and_p_match_scipy_to_one_in_a_million() {
        for (name, alternative, u, p) in SCIPY {
            let (x, y) = sets(name);
            let alternative = match alternative {
                "greater" => Alternative::Greater,
                "less" => Alternative::Less,
                _ => Alternative::TwoSided,
            };
            let result = mann_whitney_u(&x, &y, alternative).expect("a result");
            assert!(
                (result.u - u).abs() < 1e-9,
                "{name} {alternative:?}: U {} vs {u}",
                result.u
            );
            assert!(
                (result.p_value - p).abs() < 1e-6,
                "{name} {alternative:?}: p {} vs {p}",
                result.p_value
            );
        }
    }

    #[test]
    fn small_samples_without_ties_use_the_exact_distribution_as_scipy_does() {
        let (x, y) = sets("tiny_exact");
        let exact = mann_whitney_u(&x, &y, Alternative::Greater).expect("a result");
        assert_eq!(exact.method, Method::Exact);
        let (x, y) = sets("many_ties");
        let approximate = mann_whitney_u(&x, &y, Alternative::Greater).expect("a result");
        assert_eq!(approximate.method, Method::Asymptotic);
    }

    #[test]
    fn an_empty_or_nan_sample_has_no_result() {
        assert!(mann_whitney_u(&[], &[1.0], Alternative::TwoSided).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0], Alternative::TwoSided).is_none());
    }

    #[test]
    fn identical_constant_samples_are_not_different() {
        let same = mann_whitney_u(&[2.0; 20], &[2.0; 20], Alternative::Greater).expect("a result");
        assert_eq!(same.p_value, 1.0);
    }
}
