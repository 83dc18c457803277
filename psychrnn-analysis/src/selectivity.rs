//! Unit selectivity: PyCog's choice selectivity index (Song et al. 2016, Eq 30),
//! `d' = (mu_1 - mu_2) / sqrt((sigma_1^2 + sigma_2^2) / 2)`, where `mu_c`, `sigma_c^2` are the
//! mean and variance of a unit's activity during the stimulus period over the trials on which
//! the network chose `c`. As in PyCog's `examples/analysis/rdm.py`, a trial's activity is the
//! unit's rate summed over the stimulus window, and the variances are population variances.

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayView3};
use psychrnn_core::{Error, Result};

/// `d'` between two samples (population variances); 0 when both are constant and equal,
/// +-infinity when constant and different; NaN when either is empty.
pub fn d_prime(first: &[f64], second: &[f64]) -> f64 {
    let moments = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        (mean, x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
    };
    if first.is_empty() || second.is_empty() {
        return f64::NAN;
    }
    let ((m1, v1), (m2, v2)) = (moments(first), moments(second));
    let scale = ((v1 + v2) / 2.0).sqrt();
    if scale > 0.0 {
        (m1 - m2) / scale
    } else if m1 == m2 {
        0.0
    } else {
        (m1 - m2).signum() * f64::INFINITY
    }
}

/// Each trial's activity per unit summed over its window (time steps): `rates` is
/// `[time, trials, units]`, the result `[trials, units]`.
///
/// # Errors
/// [`Error::Invalid`] if `windows` does not have one entry per trial or a window runs past the
/// trial.
pub fn window_sums(rates: ArrayView3<'_, f32>, windows: &[Range<usize>]) -> Result<Array2<f64>> {
    let (steps, trials, units) = rates.dim();
    if windows.len() != trials {
        return Err(Error::invalid("selectivity", format!("{trials} trials, but {} stimulus windows", windows.len())));
    }
    if let Some((b, w)) = windows.iter().enumerate().find(|(_, w)| w.end > steps) {
        return Err(Error::invalid(
            "selectivity",
            format!("trial {b}'s stimulus window {w:?} runs past its {steps} steps"),
        ));
    }
    Ok(Array2::from_shape_fn((trials, units), |(b, u)| windows[b].clone().map(|t| f64::from(rates[[t, b, u]])).sum()))
}

/// The choice selectivity `d'` of every unit from each trial's stimulus-period activity
/// (`[trials, units]`, e.g. [`window_sums`]) and its choice (`Some(0)` for choice 1, `Some(1)` for
/// choice 2; other values and `None` are left out). Positive values prefer choice 1.
///
/// # Errors
/// [`Error::Invalid`] if `choices` does not have one entry per trial, or either choice has no
/// trial.
pub fn choice_selectivity(activity: ArrayView2<'_, f64>, choices: &[Option<usize>]) -> Result<Vec<f64>> {
    let (trials, units) = activity.dim();
    if choices.len() != trials {
        return Err(Error::invalid("selectivity", format!("{trials} trials, but {} choices", choices.len())));
    }
    let pick = |c: usize| -> Vec<usize> { (0..trials).filter(|&b| choices[b] == Some(c)).collect() };
    let (first, second) = (pick(0), pick(1));
    for (rows, name) in [(&first, "choice 1"), (&second, "choice 2")] {
        if rows.is_empty() {
            return Err(Error::invalid(
                "selectivity",
                format!("no trial chose {name}: d' needs trials of both choices"),
            ));
        }
    }
    Ok((0..units)
        .map(|u| {
            let values = |rows: &[usize]| rows.iter().map(|&b| activity[[b, u]]).collect::<Vec<f64>>();
            d_prime(&values(&first), &values(&second))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn d_prime_by_hand() {
        // Means 3 and 1, population variances 2/3 and 2/3: d' = 2 / sqrt(2/3).
        let d = d_prime(&[2.0, 3.0, 4.0], &[0.0, 1.0, 2.0]);
        assert!((d - 2.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12, "{d}");
        assert_eq!(d_prime(&[1.0, 1.0], &[1.0]), 0.0);
        assert_eq!(d_prime(&[2.0], &[1.0]), f64::INFINITY);
        assert!(d_prime(&[], &[1.0]).is_nan());
    }

    #[test]
    fn units_are_scored_over_their_trials_stimulus_windows() {
        // 4 trials of 5 steps, 2 units. Unit 0 fires 1 per step in the window on choice-1 trials;
        // unit 1 the opposite. Activity outside the window must not count.
        let choices = [Some(0), Some(1), Some(0), Some(1)];
        let windows = [1..3, 1..3, 2..4, 2..4];
        let mut rates = Array3::<f32>::from_elem((5, 4, 2), 9.0);
        for b in 0..4 {
            for t in windows[b].clone() {
                let on = choices[b] == Some(0);
                rates[[t, b, 0]] = if on { 1.0 } else { 0.0 } + b as f32 * 0.1;
                rates[[t, b, 1]] = if on { 0.0 } else { 1.0 };
            }
        }
        let activity = window_sums(rates.view(), &windows).unwrap();
        let d = choice_selectivity(activity.view(), &choices).unwrap();
        // Unit 0: choice 1 sums {2.0, 2.4}, choice 2 sums {0.2, 0.6}; both variances 0.04.
        let want0 = (2.2 - 0.4) / 0.04f64.sqrt();
        assert!((d[0] - want0).abs() < 1e-5, "{d:?}");
        assert_eq!(d[1], f64::NEG_INFINITY);
        let e = choice_selectivity(activity.view(), &[Some(0); 4]).unwrap_err().to_string();
        assert!(e.contains("no trial chose choice 2"), "{e}");
        assert!(window_sums(rates.view(), &[0..6, 0..1, 0..1, 0..1]).is_err());
        assert!(choice_selectivity(activity.view(), &choices[..3]).is_err());
    }
}
