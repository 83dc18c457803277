//! Summaries over networks and a rank test between two groups of them: what a study of many
//! trained networks reports (PsychRNN's Fig 5 compares the training time of curriculum and
//! baseline networks over seeds with a rank test).
//!
//! - [`Summary`]: n, median and quartiles (NumPy's default linear interpolation), mean and sample
//!   standard deviation (`ddof = 1`).
//! - [`mann_whitney_u`]: the Mann-Whitney U (Wilcoxon rank-sum) test, two-sided, as SciPy's
//!   `mannwhitneyu` computes it by default: the exact distribution when both groups have fewer
//!   than 8 values and there are no ties, otherwise the normal approximation with the tie
//!   correction and the continuity correction.

use serde::Serialize;

/// The `q`-quantile of sorted values, by linear interpolation (NumPy's default; NaN when empty).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (i, frac) = (pos.floor() as usize, pos.fract());
            if i + 1 < n { sorted[i] + frac * (sorted[i + 1] - sorted[i]) } else { sorted[n - 1] }
        }
    }
}

/// Location and spread of a group of values (NaN values are left out and counted apart).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Finite values summarised.
    pub n: usize,
    /// Values left out because they are NaN or infinite (e.g. a run that diverged).
    pub n_missing: usize,
    /// The median.
    pub median: f64,
    /// The first quartile.
    pub q25: f64,
    /// The third quartile.
    pub q75: f64,
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (`n - 1` in the denominator; NaN for one value).
    pub sd: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `values`.
    pub fn of(values: &[f64]) -> Summary {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = if n == 0 { f64::NAN } else { sorted.iter().sum::<f64>() / n as f64 };
        let sd = if n < 2 {
            f64::NAN
        } else {
            (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Summary {
            n,
            n_missing: values.len() - n,
            median: quantile(&sorted, 0.5),
            q25: quantile(&sorted, 0.25),
            q75: quantile(&sorted, 0.75),
            mean,
            sd,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// How [`mann_whitney_u`] computed its p-value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankTestMethod {
    /// The exact distribution of U (both groups under 8 values, no ties).
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// The result of a two-sided Mann-Whitney U test of group `a` against group `b`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankTest {
    /// Values in `a` and in `b`.
    pub n_a: usize,
    /// Values in `b`.
    pub n_b: usize,
    /// U of `a`: the number of pairs `(x in a, y in b)` with `x > y`, ties counting one half
    /// (SciPy's `statistic`).
    pub u: f64,
    /// The two-sided p-value.
    pub p: f64,
    /// The common-language effect size `U / (n_a n_b)`: the probability that a value of `a`
    /// exceeds one of `b` (0.5: no difference).
    pub effect_size: f64,
    /// How `p` was computed.
    pub method: RankTestMethod,
}

/// The two-sided Mann-Whitney U test of `a` against `b` (finite values only; see the module
/// header for the method). `None` when a group has no finite value.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<RankTest> {
    let a: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Mid-ranks of the pooled values; `ties` collects t^3 - t over groups of equal values.
    let mut pooled: Vec<(f64, bool)> = a.iter().map(|&v| (v, true)).chain(b.iter().map(|&v| (v, false))).collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut rank_sum_a, mut ties, mut i) = (0.0, 0.0, 0);
    while i < pooled.len() {
        let j = (i..pooled.len()).find(|&j| pooled[j].0 != pooled[i].0).unwrap_or(pooled.len());
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_a += mid_rank * pooled[i..j].iter().filter(|p| p.1).count() as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u = rank_sum_a - f1 * (f1 + 1.0) / 2.0;
    let u_big = u.max(f1 * f2 - u);
    let (p, method) = if n1 < 8 && n2 < 8 && ties == 0.0 {
        (2.0 * exact_upper_tail(n1, n2, u_big.round() as usize), RankTestMethod::Exact)
    } else {
        let n = f1 + f2;
        let sigma = (f1 * f2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
        let z = (u_big - f1 * f2 / 2.0 - 0.5) / sigma;
        // A sigma of 0 (every value equal): no evidence of a difference.
        let tail = if sigma > 0.0 { 0.5 * libm::erfc(z / std::f64::consts::SQRT_2) } else { 0.5 };
        (2.0 * tail, RankTestMethod::Asymptotic)
    };
    Some(RankTest { n_a: n1, n_b: n2, u, p: p.min(1.0), effect_size: u / (f1 * f2), method })
}

/// P(U >= u) under the null hypothesis for groups of `n1` and `n2` distinct values: the share
/// of the `C(n1 + n2, n1)` orderings whose U is at least `u`.
fn exact_upper_tail(n1: usize, n2: usize, u: usize) -> f64 {
    // counts[j][k]: orderings of n1' = i values of the first group and j of the second with U = k,
    // built up one value of the first group at a time.
    let max_u = n1 * n2;
    let mut counts = vec![vec![0.0f64; max_u + 1]; n2 + 1];
    for row in &mut counts {
        row[0] = 1.0; // no value of the first group yet: U = 0
    }
    for i in 1..=n1 {
        let mut next = vec![vec![0.0f64; max_u + 1]; n2 + 1];
        for j in 0..=n2 {
            for k in 0..=i * j {
                // The largest value is of the first group (it beats all j) or of the second.
                let first = if k >= j { counts[j][k - j] } else { 0.0 };
                let second = if j > 0 { next[j - 1][k] } else { 0.0 };
                next[j][k] = first + second;
            }
        }
        counts = next;
    }
    let total: f64 = counts[n2].iter().sum();
    counts[n2][u.min(max_u + 1)..].iter().sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_numpy() {
        // np.percentile([3,1,4,1,5,9,2,6], [25,50,75]) = [1.75, 3.5, 5.25]; mean 3.875; std(ddof=1) 2.748376...
        let s = Summary::of(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, f64::NAN]);
        assert_eq!((s.n, s.n_missing), (8, 1));
        assert!((s.q25 - 1.75).abs() < 1e-12 && (s.median - 3.5).abs() < 1e-12 && (s.q75 - 5.25).abs() < 1e-12);
        assert!((s.mean - 3.875).abs() < 1e-12 && (s.sd - 2.748376143938713).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 9.0));
        let one = Summary::of(&[2.0]);
        assert!(one.sd.is_nan() && one.median == 2.0);
        assert_eq!(Summary::of(&[]).n, 0);
    }

    #[test]
    fn exact_test_matches_scipy() {
        // scipy.stats.mannwhitneyu(a, b): statistic 2.0, pvalue 0.017316017316017316 (exact).
        let a = [1.2, 3.4, 2.2, 5.1, 0.7];
        let b = [4.4, 6.1, 5.5, 7.0, 3.9, 8.2];
        let t = mann_whitney_u(&a, &b).unwrap();
        assert_eq!((t.u, t.method), (2.0, RankTestMethod::Exact));
        assert!((t.p - 0.017316017316017316).abs() < 1e-12, "{}", t.p);
        // Swapping the groups gives U' = n1 n2 - U and the same p.
        let s = mann_whitney_u(&b, &a).unwrap();
        assert_eq!(s.u, 28.0);
        assert!((s.p - t.p).abs() < 1e-15);
    }

    #[test]
    fn asymptotic_test_with_ties_matches_scipy() {
        // scipy: statistic 29.0, pvalue 0.07152911791306392 (ties: asymptotic, corrected).
        let a = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let b = [3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let t = mann_whitney_u(&a, &b).unwrap();
        assert_eq!((t.u, t.method), (29.0, RankTestMethod::Asymptotic));
        assert!((t.p - 0.07152911791306392).abs() < 1e-12, "{}", t.p);
    }

    #[test]
    fn separated_groups_are_significant_and_identical_ones_are_not() {
        let a: Vec<f64> = (0..20).map(f64::from).collect();
        let b: Vec<f64> = (100..120).map(f64::from).collect();
        let t = mann_whitney_u(&a, &b).unwrap();
        assert_eq!((t.u, t.effect_size), (0.0, 0.0));
        assert!(t.p < 1e-6, "{}", t.p);
        let same = mann_whitney_u(&[1.0; 10], &[1.0; 12]).unwrap();
        assert_eq!(same.p, 1.0);
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        assert!(mann_whitney_u(&[f64::NAN], &[1.0]).is_none());
    }
}
