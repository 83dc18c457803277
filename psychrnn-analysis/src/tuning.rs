//! Tuning to a task parameter over time (PyCog Fig 7C, E): at every time step, each unit's rate
//! over trials is regressed on the parameter (`r = a + b x`); the unit is significantly tuned
//! when the slope's two-sided t-test gives `p < alpha`. Accumulated trial by trial.

use ndarray::{Array2, ArrayView2};
use psychrnn_core::{Error, Result};

/// Sums for the per-step, per-unit regressions.
pub struct Tuning {
    steps: usize,
    units: usize,
    n: f64,
    sx: f64,
    sxx: f64,
    /// `[steps, units]` sums of r, r^2 and x r.
    sr: Array2<f64>,
    srr: Array2<f64>,
    sxr: Array2<f64>,
}

/// Tuning of every unit at every step ([`Tuning::finish`]).
#[derive(Clone, Debug)]
pub struct TuningCurves {
    /// Slope `b` of the rate against the parameter, `[steps, units]`.
    pub slopes: Array2<f64>,
    /// Its t statistic.
    pub t_statistics: Array2<f64>,
    /// Two-sided p-value of the slope (Student t, `trials - 2` degrees of freedom; 1 for a
    /// unit with constant rate).
    pub p_values: Array2<f64>,
    /// The fraction of units with `p < alpha` at each step.
    pub fraction_tuned: Vec<f64>,
    /// The significance level.
    pub alpha: f64,
    /// Trials.
    pub trials: usize,
}

impl Tuning {
    /// Empty sums for `steps x units` rates.
    pub fn new(steps: usize, units: usize) -> Self {
        let z = || Array2::zeros((steps, units));
        Tuning { steps, units, n: 0.0, sx: 0.0, sxx: 0.0, sr: z(), srr: z(), sxr: z() }
    }

    /// Adds a trial: its parameter value and rates `[steps, units]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for rates of another shape; [`Error::Invalid`] for a non-finite value.
    pub fn add_trial(&mut self, value: f64, rates: ArrayView2<'_, f32>) -> Result<()> {
        if rates.dim() != (self.steps, self.units) {
            return Err(Error::shape(
                "rates",
                format!("[{}, {}]", self.steps, self.units),
                format!("{:?}", rates.shape()),
            ));
        }
        if !value.is_finite() {
            return Err(Error::invalid("tuning", format!("parameter value {value}")));
        }
        self.n += 1.0;
        self.sx += value;
        self.sxx += value * value;
        ndarray::Zip::from(&mut self.sr).and(&mut self.srr).and(&mut self.sxr).and(&rates).for_each(
            |sr, srr, sxr, &r| {
                let r = f64::from(r);
                *sr += r;
                *srr += r * r;
                *sxr += value * r;
            },
        );
        Ok(())
    }

    /// The slopes, their t-tests at level `alpha`, and the fraction of tuned units per step.
    ///
    /// # Errors
    /// [`Error::Invalid`] with fewer than 3 trials or a parameter that never varies.
    pub fn finish(self, alpha: f64) -> Result<TuningCurves> {
        let n = self.n;
        if n < 3.0 {
            return Err(Error::invalid("tuning", format!("needs at least 3 trials, got {n}")));
        }
        let sxx = self.sxx - self.sx * self.sx / n;
        if sxx <= 1e-12 * self.sxx.abs().max(1e-300) {
            return Err(Error::invalid("tuning", "the parameter never varies over the trials"));
        }
        let df = n - 2.0;
        let mut slopes = Array2::zeros((self.steps, self.units));
        let mut t_statistics = Array2::zeros((self.steps, self.units));
        let mut p_values = Array2::ones((self.steps, self.units));
        for ((t, u), slope) in slopes.indexed_iter_mut() {
            let sxy = self.sxr[[t, u]] - self.sx * self.sr[[t, u]] / n;
            let syy = self.srr[[t, u]] - self.sr[[t, u]] * self.sr[[t, u]] / n;
            let b = sxy / sxx;
            *slope = b;
            let residual = (syy - b * sxy).max(0.0) / df;
            if syy > 1e-12 && residual > 0.0 {
                let stat = b / (residual / sxx).sqrt();
                t_statistics[[t, u]] = stat;
                p_values[[t, u]] = student_t_two_sided(stat, df);
            } else if syy > 1e-12 {
                // A perfect fit: infinitely significant.
                t_statistics[[t, u]] = b.signum() * f64::INFINITY;
                p_values[[t, u]] = 0.0;
            }
        }
        let fraction_tuned = p_values
            .rows()
            .into_iter()
            .map(|row| row.iter().filter(|&&p| p < alpha).count() as f64 / self.units.max(1) as f64)
            .collect();
        Ok(TuningCurves { slopes, t_statistics, p_values, fraction_tuned, alpha, trials: n as usize })
    }
}

/// `P(|T| >= |t|)` for Student's t with `df` degrees of freedom: `I_{df/(df+t^2)}(df/2, 1/2)`.
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return if t.is_nan() { f64::NAN } else { 0.0 };
    }
    regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// `I_x(a, b)`, by its continued fraction (Lentz's method; Numerical Recipes' `betai`).
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { 1.0 / TINY } else { 1.0 / d };
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { 1.0 / TINY } else { 1.0 / d };
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn student_t_p_values_match_tables() {
        // Two-sided p of t = 2.228 at 10 df is 0.05; of 2.0 at 10 df 0.0734; of 1.96 at large df 0.05.
        assert!((student_t_two_sided(2.228_138_851_986_274, 10.0) - 0.05).abs() < 1e-9);
        assert!((student_t_two_sided(2.0, 10.0) - 0.073_388_034_770_740_22).abs() < 1e-9);
        assert!((student_t_two_sided(1.959_963_984_540_054, 1e7) - 0.05).abs() < 1e-6);
        assert_eq!(student_t_two_sided(0.0, 5.0), 1.0);
        assert!((student_t_two_sided(-2.0, 10.0) - student_t_two_sided(2.0, 10.0)).abs() < 1e-15);
    }

    #[test]
    fn tuned_units_are_found_and_untuned_ones_pass_at_the_error_rate() {
        // 200 units: the first 50 follow the parameter at step 1 only; all are noise at step 0.
        let (steps, units, trials) = (2, 200, 120);
        let mut rng = stream(5, Purpose::User, 0);
        let mut tuning = Tuning::new(steps, units);
        for b in 0..trials {
            let x = f64::from(b % 6) * 6.0 + 10.0; // Romo-like frequencies 10..40 Hz
            let rates = Array2::from_shape_fn((steps, units), |(t, u)| {
                let noise: f64 = StandardNormal.sample(&mut rng);
                (1.0 + if t == 1 && u < 50 { 0.05 * x } else { 0.0 } + 0.5 * noise) as f32
            });
            tuning.add_trial(x, rates.view()).unwrap();
        }
        let curves = tuning.finish(0.05).unwrap();
        assert!(curves.fraction_tuned[0] < 0.1, "false positives at step 0: {}", curves.fraction_tuned[0]);
        assert!(curves.fraction_tuned[1] > 0.25 && curves.fraction_tuned[1] < 0.35, "{}", curves.fraction_tuned[1]);
        assert!((curves.slopes[[1, 0]] - 0.05).abs() < 0.02, "{}", curves.slopes[[1, 0]]);
        let mut flat = Tuning::new(1, 1);
        for _ in 0..4 {
            flat.add_trial(3.0, Array2::<f32>::zeros((1, 1)).view()).unwrap();
        }
        assert!(flat.finish(0.05).unwrap_err().to_string().contains("never varies"));
    }
}
