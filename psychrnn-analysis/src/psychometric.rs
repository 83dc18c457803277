//! Psychometric curves: the fraction of choice 1 against a signed stimulus, fitted by binomial
//! maximum likelihood.
//!
//! The curve is `psi(x) = gamma + (1 - gamma - lambda) F((x - bias) / sigma)`, with `F` the
//! cumulative Gaussian (PyCog's Fig 2 form) or the logistic `1 / (1 + e^-z)`, and `gamma`,
//! `lambda` the lower and upper lapse rates (0 unless fitted; each in [0, 0.5)). The fit
//! maximises `sum_i k_i ln psi(x_i) + (n_i - k_i) ln(1 - psi(x_i))` over the conditions (PyCog
//! fits proportions by least squares; maximum likelihood weighs each condition by its trial
//! count, as psignifit and psychofit do). Goodness of fit is the deviance against the saturated
//! model; confidence intervals come from a parametric bootstrap (choices redrawn from the
//! fitted curve with each condition's trial count, refitted, percentile intervals).

use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Error, Result};
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

use crate::optimize::{NelderMead, nelder_mead};
use crate::statistics::quantile;

/// The sigmoid `F` of the curve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sigmoid {
    /// `F(z) = Phi(z)`, the standard normal CDF: `sigma` is the Gaussian's standard deviation.
    #[default]
    CumulativeGaussian,
    /// `F(z) = 1 / (1 + e^-z)`: `sigma` is the logistic's scale.
    Logistic,
}

impl Sigmoid {
    /// `F(z)`.
    pub fn cdf(self, z: f64) -> f64 {
        match self {
            Sigmoid::CumulativeGaussian => 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2),
            Sigmoid::Logistic => 1.0 / (1.0 + (-z).exp()),
        }
    }

    /// `F'(0)`, for the slope at the bias.
    fn density_at_zero(self) -> f64 {
        match self {
            Sigmoid::CumulativeGaussian => 1.0 / (2.0 * std::f64::consts::PI).sqrt(),
            Sigmoid::Logistic => 0.25,
        }
    }
}

/// Whether lapse rates are fitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lapses {
    /// No lapses: the curve runs from 0 to 1.
    #[default]
    None,
    /// A lower (`gamma`) and an upper (`lambda`) lapse rate, each in [0, 0.5).
    Free,
}

/// One condition of a psychometric curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The signed stimulus (e.g. signed coherence).
    pub stimulus: f64,
    /// Trials with a choice at this stimulus.
    pub n_trials: u64,
    /// Of those, trials with choice 1.
    pub n_choice1: u64,
}

impl Point {
    /// The fraction of choice 1.
    pub fn fraction(&self) -> f64 {
        if self.n_trials == 0 { f64::NAN } else { self.n_choice1 as f64 / self.n_trials as f64 }
    }
}

/// Options of [`fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// The sigmoid.
    pub sigmoid: Sigmoid,
    /// Whether lapse rates are fitted.
    pub lapses: Lapses,
    /// Bootstrap resamples for the confidence intervals (0: none).
    pub bootstrap: usize,
    /// Confidence level of the intervals, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the bootstrap's random draws.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            sigmoid: Sigmoid::CumulativeGaussian,
            lapses: Lapses::None,
            bootstrap: 500,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// The curve's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// The sigmoid.
    pub sigmoid: Sigmoid,
    /// The stimulus at the curve's midpoint (`F = 1/2`): the point of subjective equality.
    pub bias: f64,
    /// The scale: the cumulative Gaussian's standard deviation (the stimulus change from 50% to
    /// 84% of the curve's range), or the logistic's scale.
    pub sigma: f64,
    /// Lower lapse rate `gamma`.
    pub lapse_low: f64,
    /// Upper lapse rate `lambda`.
    pub lapse_high: f64,
}

impl Curve {
    /// `psi(x)`: the probability of choice 1 at stimulus `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.lapse_low + (1.0 - self.lapse_low - self.lapse_high) * self.sigmoid.cdf((x - self.bias) / self.sigma)
    }

    /// `psi'(bias)`: the slope at the midpoint, in fraction of choice 1 per stimulus unit.
    pub fn slope(&self) -> f64 {
        (1.0 - self.lapse_low - self.lapse_high) * self.sigmoid.density_at_zero() / self.sigma
    }

    /// The binomial log-likelihood of `points` (without the constant binomial coefficients).
    pub fn log_likelihood(&self, points: &[Point]) -> f64 {
        points
            .iter()
            .map(|p| {
                let psi = self.predict(p.stimulus).clamp(1e-15, 1.0 - 1e-15);
                p.n_choice1 as f64 * psi.ln() + (p.n_trials - p.n_choice1) as f64 * (1.0 - psi).ln()
            })
            .sum()
    }

    /// The deviance against the saturated model: `2 sum_i [k ln(k / n psi) + (n - k) ln((n - k)
    /// / n (1 - psi))]` (terms with `k = 0` or `k = n` drop their zero part).
    pub fn deviance(&self, points: &[Point]) -> f64 {
        let term = |observed: f64, expected: f64| {
            if observed > 0.0 { observed * (observed / expected.max(1e-300)).ln() } else { 0.0 }
        };
        2.0 * points
            .iter()
            .map(|p| {
                let n = p.n_trials as f64;
                let psi = self.predict(p.stimulus);
                term(p.n_choice1 as f64, n * psi) + term(n - p.n_choice1 as f64, n * (1.0 - psi))
            })
            .sum::<f64>()
    }
}

/// A confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies in the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Bootstrap confidence intervals of a fit's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// The confidence level, e.g. 0.95.
    pub confidence: f64,
    /// Resamples whose refit succeeded.
    pub n_bootstrap: usize,
    /// Of the bias.
    pub bias: Interval,
    /// Of sigma.
    pub sigma: Interval,
    /// Of the slope at the bias.
    pub slope: Interval,
    /// Of the lower lapse rate.
    pub lapse_low: Interval,
    /// Of the upper lapse rate.
    pub lapse_high: Interval,
}

/// A fitted psychometric curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The curve.
    #[serde(flatten)]
    pub curve: Curve,
    /// Its slope at the bias ([`Curve::slope`]).
    pub slope: f64,
    /// Whether the lapse rates were fitted (else they are 0).
    pub lapses_fitted: bool,
    /// The maximised log-likelihood.
    pub log_likelihood: f64,
    /// The deviance ([`Curve::deviance`]); with many trials per condition it follows a
    /// chi-square distribution with `degrees_of_freedom` if the curve is right.
    pub deviance: f64,
    /// Conditions minus fitted parameters.
    pub degrees_of_freedom: i64,
    /// Trials over all conditions.
    pub n_trials: u64,
    /// Whether the bias or sigma ended at its bound (bias within 10 stimulus ranges of the
    /// stimuli, sigma between 1e-4 and 1e3 ranges): e.g. a flat curve, whose bias and sigma the
    /// data do not determine (its slope, near 0, is what it shows).
    pub at_bound: bool,
    /// Bootstrap confidence intervals (`None` without resamples).
    pub intervals: Option<Intervals>,
}

/// Fits a psychometric curve to `points` by binomial maximum likelihood, with bootstrap
/// confidence intervals if `options.bootstrap > 0`.
///
/// # Errors
/// [`Error::Invalid`] for a non-finite stimulus, more choices 1 than trials, fewer than two
/// conditions with trials, or a confidence level outside (0, 1).
///
/// # Example
/// ```
/// use psychrnn_analysis::psychometric::{FitOptions, Point, fit};
/// // Choices 1 out of 100 trials at five signed coherences.
/// let points: Vec<Point> = [(-0.4, 3), (-0.1, 30), (0.0, 52), (0.1, 69), (0.4, 98)]
///     .iter()
///     .map(|&(stimulus, n_choice1)| Point { stimulus, n_trials: 100, n_choice1 })
///     .collect();
/// let f = fit(&points, &FitOptions { bootstrap: 100, ..FitOptions::default() })?;
/// assert!(f.curve.bias.abs() < 0.03 && (0.1..0.25).contains(&f.curve.sigma));
/// assert!(f.intervals.unwrap().bias.contains(f.curve.bias));
/// # Ok::<(), psychrnn_core::Error>(())
/// ```
pub fn fit(points: &[Point], options: &FitOptions) -> Result<Fit> {
    for (i, p) in points.iter().enumerate() {
        if !p.stimulus.is_finite() {
            return Err(Error::invalid(format!("points[{i}].stimulus"), format!("must be finite, got {}", p.stimulus)));
        }
        if p.n_choice1 > p.n_trials {
            return Err(Error::invalid(
                format!("points[{i}]"),
                format!("{} choices 1 out of {} trials", p.n_choice1, p.n_trials),
            ));
        }
    }
    let used: Vec<Point> = points.iter().copied().filter(|p| p.n_trials > 0).collect();
    let distinct = {
        let mut x: Vec<f64> = used.iter().map(|p| p.stimulus).collect();
        x.sort_by(f64::total_cmp);
        x.dedup();
        x.len()
    };
    if distinct < 2 {
        return Err(Error::invalid("points", format!("a curve needs trials at 2 or more stimuli, got {distinct}")));
    }
    let (choices1, trials): (u64, u64) = used.iter().fold((0, 0), |(k, n), p| (k + p.n_choice1, n + p.n_trials));
    if choices1 == 0 || choices1 == trials {
        let side = if choices1 == 0 { 2 } else { 1 };
        return Err(Error::invalid(
            "points",
            format!(
                "all {trials} trials chose {side}: the curve's midpoint lies outside the stimuli, there is no curve to fit"
            ),
        ));
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(Error::invalid("confidence", format!("must lie in (0, 1), got {}", options.confidence)));
    }
    let curve = maximum_likelihood(&used, options, None);
    let n_params = if options.lapses == Lapses::Free { 4 } else { 2 };
    let intervals = (options.bootstrap > 0).then(|| bootstrap(&used, &curve, options));
    Ok(Fit {
        curve,
        slope: curve.slope(),
        lapses_fitted: options.lapses == Lapses::Free,
        log_likelihood: curve.log_likelihood(&used),
        deviance: curve.deviance(&used),
        degrees_of_freedom: used.len() as i64 - n_params,
        n_trials: used.iter().map(|p| p.n_trials).sum(),
        at_bound: Bounds::of(&used).touches(&curve),
        intervals,
    })
}

/// The lapse rate of an unbounded parameter: `0.5 / (1 + e^-t)`, in (0, 0.5).
fn lapse_of(t: f64) -> f64 {
    0.5 / (1.0 + (-t).exp())
}

/// The inverse of [`lapse_of`].
fn lapse_parameter(lapse: f64) -> f64 {
    let q = (2.0 * lapse).clamp(1e-9, 1.0 - 1e-9);
    (q / (1.0 - q)).ln()
}

/// The smallest and the largest stimulus of `points`.
pub fn stimulus_range(points: &[Point]) -> (f64, f64) {
    points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.stimulus), hi.max(p.stimulus)))
}

/// Where the bias and sigma may go: within 10 ranges of the stimuli, and 1e-4 to 1e3 ranges.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    bias: (f64, f64),
    ln_sigma: (f64, f64),
}

impl Bounds {
    fn of(points: &[Point]) -> Self {
        let (lo, hi) = stimulus_range(points);
        let range = (hi - lo).max(1e-12);
        Bounds { bias: (lo - 10.0 * range, hi + 10.0 * range), ln_sigma: ((1e-4 * range).ln(), (1e3 * range).ln()) }
    }

    fn touches(&self, c: &Curve) -> bool {
        let near = |v: f64, bound: f64| (v - bound).abs() <= 1e-6 * (1.0 + bound.abs());
        near(c.bias, self.bias.0)
            || near(c.bias, self.bias.1)
            || near(c.sigma.ln(), self.ln_sigma.0)
            || near(c.sigma.ln(), self.ln_sigma.1)
    }
}

fn curve_of(theta: &[f64], options: &FitOptions, bounds: &Bounds) -> Curve {
    let (lapse_low, lapse_high) =
        if options.lapses == Lapses::Free { (lapse_of(theta[2]), lapse_of(theta[3])) } else { (0.0, 0.0) };
    Curve {
        sigmoid: options.sigmoid,
        bias: theta[0].clamp(bounds.bias.0, bounds.bias.1),
        sigma: theta[1].clamp(bounds.ln_sigma.0, bounds.ln_sigma.1).exp(),
        lapse_low,
        lapse_high,
    }
}

/// The maximum-likelihood curve, from several starting scales (or from `start`).
fn maximum_likelihood(points: &[Point], options: &FitOptions, start: Option<&Curve>) -> Curve {
    let bounds = Bounds::of(points);
    let nll = |theta: &[f64]| -curve_of(theta, options, &bounds).log_likelihood(points);
    let (lo, hi) = stimulus_range(points);
    let starts: Vec<Vec<f64>> = match start {
        Some(c) => vec![vec![c.bias, c.sigma.ln(), lapse_parameter(c.lapse_low), lapse_parameter(c.lapse_high)]],
        None => {
            let bias = midpoint(points);
            let range = (hi - lo).max(1e-12);
            [0.05, 0.25, 1.0]
                .iter()
                .map(|f| vec![bias, (f * range).ln(), lapse_parameter(0.02), lapse_parameter(0.02)])
                .collect()
        }
    };
    let n = if options.lapses == Lapses::Free { 4 } else { 2 };
    let settings = NelderMead { step: 0.3, ..NelderMead::default() };
    let best = starts
        .iter()
        .map(|x0| nelder_mead(nll, &x0[..n], settings))
        .min_by(|a, b| a.value.total_cmp(&b.value))
        .map(|m| m.x)
        .unwrap_or_else(|| starts[0][..n].to_vec());
    curve_of(&best, options, &bounds)
}

/// Where the observed fraction crosses 1/2 (linear interpolation), or the trial-weighted mean
/// stimulus if it never does: a starting bias.
fn midpoint(points: &[Point]) -> f64 {
    let mut sorted: Vec<&Point> = points.iter().collect();
    sorted.sort_by(|a, b| a.stimulus.total_cmp(&b.stimulus));
    for w in sorted.windows(2) {
        let (f0, f1) = (w[0].fraction() - 0.5, w[1].fraction() - 0.5);
        if f0 <= 0.0 && f1 >= 0.0 && f1 > f0 {
            return w[0].stimulus + (w[1].stimulus - w[0].stimulus) * (-f0) / (f1 - f0);
        }
    }
    let total: f64 = points.iter().map(|p| p.n_trials as f64).sum();
    points.iter().map(|p| p.stimulus * p.n_trials as f64).sum::<f64>() / total
}

/// Parametric bootstrap: choices redrawn from `curve`, refitted; percentile intervals.
fn bootstrap(points: &[Point], curve: &Curve, options: &FitOptions) -> Intervals {
    let mut samples: Vec<[f64; 5]> = Vec::with_capacity(options.bootstrap);
    for b in 0..options.bootstrap {
        let mut rng = stream(options.seed, Purpose::User, b as u64);
        let resampled: Vec<Point> = points
            .iter()
            .map(|p| {
                let psi = curve.predict(p.stimulus).clamp(0.0, 1.0);
                let n_choice1 = Binomial::new(p.n_trials, psi).map_or(p.n_choice1, |d| d.sample(&mut rng));
                Point { n_choice1, ..*p }
            })
            .collect();
        let c = maximum_likelihood(&resampled, options, Some(curve));
        let row = [c.bias, c.sigma, c.slope(), c.lapse_low, c.lapse_high];
        if row.iter().all(|v| v.is_finite()) {
            samples.push(row);
        }
    }
    let tail = (1.0 - options.confidence) / 2.0;
    let interval = |k: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[k]).collect();
        v.sort_by(f64::total_cmp);
        Interval { low: quantile(&v, tail), high: quantile(&v, 1.0 - tail) }
    };
    Intervals {
        confidence: options.confidence,
        n_bootstrap: samples.len(),
        bias: interval(0),
        sigma: interval(1),
        slope: interval(2),
        lapse_low: interval(3),
        lapse_high: interval(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(curve: &Curve, n: u64, seed: u64) -> Vec<Point> {
        let mut rng = stream(seed, Purpose::User, 1 << 40);
        (-5..=5)
            .map(|i| {
                let stimulus = f64::from(i) * 0.1;
                let n_choice1 = Binomial::new(n, curve.predict(stimulus)).unwrap().sample(&mut rng);
                Point { stimulus, n_trials: n, n_choice1 }
            })
            .collect()
    }

    #[test]
    fn the_cumulative_gaussian_is_phi() {
        let phi = |z| Sigmoid::CumulativeGaussian.cdf(z);
        assert!((phi(0.0) - 0.5).abs() < 1e-15);
        assert!((phi(1.0) - 0.841_344_746_068_542_9).abs() < 1e-14);
        assert!((phi(-1.959_963_984_540_054) - 0.025).abs() < 1e-14);
    }

    #[test]
    fn each_form_recovers_its_parameters_within_the_bootstrap_intervals() {
        for (sigmoid, lapses, truth) in [
            (Sigmoid::CumulativeGaussian, Lapses::None, (0.05, 0.15, 0.0, 0.0)),
            (Sigmoid::Logistic, Lapses::None, (-0.08, 0.07, 0.0, 0.0)),
            (Sigmoid::CumulativeGaussian, Lapses::Free, (0.03, 0.12, 0.04, 0.08)),
            (Sigmoid::Logistic, Lapses::Free, (0.0, 0.06, 0.1, 0.02)),
        ] {
            let true_curve = Curve { sigmoid, bias: truth.0, sigma: truth.1, lapse_low: truth.2, lapse_high: truth.3 };
            let points = synthetic(&true_curve, 400, 7);
            let f = fit(&points, &FitOptions { sigmoid, lapses, bootstrap: 200, seed: 3, ..FitOptions::default() })
                .unwrap();
            let ci = f.intervals.unwrap();
            let what = format!("{sigmoid:?} {lapses:?}: {f:?}");
            assert!(ci.n_bootstrap == 200, "{what}");
            assert!(ci.bias.contains(truth.0) && ci.sigma.contains(truth.1), "{what}");
            assert!(ci.slope.contains(true_curve.slope()), "{what}");
            if lapses == Lapses::Free {
                assert!(ci.lapse_low.contains(truth.2) && ci.lapse_high.contains(truth.3), "{what}");
            } else {
                assert_eq!((f.curve.lapse_low, f.curve.lapse_high), (0.0, 0.0));
            }
            assert!((f.curve.bias - truth.0).abs() < 0.03 && (f.curve.sigma / truth.1 - 1.0).abs() < 0.25, "{what}");
            // A right curve: the deviance is of the order of its degrees of freedom.
            assert!(f.deviance < 4.0 * f.degrees_of_freedom as f64, "{what}");
        }
    }

    #[test]
    fn expected_counts_give_the_exact_curve_and_zero_deviance() {
        let truth =
            Curve { sigmoid: Sigmoid::CumulativeGaussian, bias: 0.1, sigma: 0.2, lapse_low: 0.0, lapse_high: 0.0 };
        let n = 10_000_000u64;
        let points: Vec<Point> = (-4..=4)
            .map(|i| {
                let stimulus = f64::from(i) * 0.15;
                Point { stimulus, n_trials: n, n_choice1: (truth.predict(stimulus) * n as f64).round() as u64 }
            })
            .collect();
        let f = fit(&points, &FitOptions { bootstrap: 0, ..FitOptions::default() }).unwrap();
        assert!((f.curve.bias - 0.1).abs() < 1e-5 && (f.curve.sigma - 0.2).abs() < 1e-5, "{f:?}");
        assert!(f.deviance < 1e-3, "{}", f.deviance);
        assert_eq!((f.degrees_of_freedom, f.n_trials), (7, 9 * n));
        assert!(f.intervals.is_none());
    }

    #[test]
    fn deviance_matches_a_hand_computation() {
        // psi = 0.5 everywhere (bias 0, huge sigma is not needed: x = 0 for both points).
        let c = Curve { sigmoid: Sigmoid::Logistic, bias: 0.0, sigma: 1.0, lapse_low: 0.0, lapse_high: 0.0 };
        let points =
            [Point { stimulus: 0.0, n_trials: 10, n_choice1: 8 }, Point { stimulus: 0.0, n_trials: 4, n_choice1: 0 }];
        let want = 2.0 * (8.0 * (8.0f64 / 5.0).ln() + 2.0 * (2.0f64 / 5.0).ln() + 4.0 * (4.0f64 / 2.0).ln());
        assert!((c.deviance(&points) - want).abs() < 1e-12);
    }

    #[test]
    fn bad_points_are_named() {
        let one = [Point { stimulus: 0.1, n_trials: 5, n_choice1: 2 }];
        assert!(fit(&one, &FitOptions::default()).unwrap_err().to_string().contains("2 or more stimuli, got 1"));
        let over =
            [Point { stimulus: 0.1, n_trials: 5, n_choice1: 6 }, Point { stimulus: 0.2, n_trials: 5, n_choice1: 2 }];
        assert_eq!(
            fit(&over, &FitOptions::default()).unwrap_err().to_string(),
            "points[0]: 6 choices 1 out of 5 trials"
        );
        let one_sided =
            [Point { stimulus: -0.1, n_trials: 5, n_choice1: 0 }, Point { stimulus: 0.2, n_trials: 5, n_choice1: 0 }];
        assert!(fit(&one_sided, &FitOptions::default()).unwrap_err().to_string().contains("all 10 trials chose 2"));
        // A flat curve: its slope is ~0 and its bias and sigma sit at their bounds, said so.
        let flat: Vec<Point> =
            (-3..=3).map(|i| Point { stimulus: f64::from(i), n_trials: 1000, n_choice1: 500 }).collect();
        let f = fit(&flat, &FitOptions { bootstrap: 0, ..FitOptions::default() }).unwrap();
        assert!(f.at_bound && f.slope.abs() < 1e-3 && f.curve.sigma <= 6000.0 * (1.0 + 1e-9), "{f:?}");
        assert!(
            !fit(
                &synthetic(
                    &Curve { sigmoid: Sigmoid::Logistic, bias: 0.0, sigma: 0.1, lapse_low: 0.0, lapse_high: 0.0 },
                    100,
                    1
                ),
                &FitOptions { bootstrap: 0, ..FitOptions::default() }
            )
            .unwrap()
            .at_bound
        );
        let nan = [Point { stimulus: f64::NAN, n_trials: 5, n_choice1: 1 }];
        assert!(fit(&nan, &FitOptions::default()).unwrap_err().to_string().starts_with("points[0].stimulus"));
    }
}
