#!/usr/bin/env python3
"""Prints the reference results `shared/src/gates/mann_whitney.rs` is tested against.

Run with SciPy installed (python3 -m venv v && v/bin/pip install scipy):
    v/bin/python scripts/mann-whitney-reference.py
and paste the output into that file's tests. The data sets are fixed; so is SciPy's method
choice ('auto': exact below 9 per side without ties, else the normal approximation with the
tie correction and continuity correction).
"""
import scipy
from scipy.stats import mannwhitneyu

SETS = {
    "equal": ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
              [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5]),
    "shifted": ([float(20 + i) for i in range(30)], [float(10 + i) for i in range(30)]),
    "heavy_tailed": ([1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 50.0, 120.0, 900.0],
                     [1.05, 1.15, 1.25, 1.35, 1.45, 1.55, 1.65, 1.75, 1.85, 1.95, 2.05, 2.15]),
    "many_ties": ([1.0] * 10 + [2.0] * 10 + [3.0] * 5, [1.0] * 15 + [2.0] * 8 + [3.0] * 2),
    "tiny": ([3.0, 4.0, 5.0], [1.0, 2.0]),
    "tiny_exact": ([8.1, 9.4, 7.7, 10.2, 9.9], [6.0, 7.1, 5.5, 6.8, 7.4, 5.9]),
}

print(f"// scipy {scipy.__version__}")
for name, (x, y) in SETS.items():
    for alternative in ("two-sided", "greater", "less"):
        r = mannwhitneyu(x, y, alternative=alternative)
        print(f"(\"{name}\", \"{alternative}\", {float(r.statistic)!r}, {float(r.pvalue)!r}),")
