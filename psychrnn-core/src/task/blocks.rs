//! Building blocks shared by tasks: PsychRNN's stimulus noise and choice accuracy, PyCog's
//! input conditioning and its choice-at-the-end performance measures.

use ndarray::{ArrayView3, ArrayViewMut1, Axis};

use crate::real::Real;
use crate::rng::Rng;
use crate::task::{TaskTiming, TrialBatch};

/// PyCog's input conditioning, on every step of every trial (padding included, as PyCog):
/// `u <- u + baseline_in + sqrt(2 tau_in / dt) sigma_in xi`, then `max(u, 0)` if
/// `rectify_inputs`. Draws the noise from `rng` in `[T, B, N_in]` order; a no-op when the
/// timing asks for no conditioning.
pub fn condition_inputs(batch: &mut TrialBatch, timing: &TaskTiming, rng: &mut Rng) {
    if !timing.conditions_inputs() {
        return;
    }
    let (baseline, std) = (timing.baseline_in, timing.input_noise_std());
    let mut xi = vec![0.0f64; batch.inputs.len()];
    if std > 0.0 {
        crate::rng::fill_standard_normal(rng, &mut xi);
    }
    for (u, z) in batch.inputs.iter_mut().zip(&xi) {
        let v = f64::from(*u) + baseline + std * z;
        *u = if timing.rectify_inputs { v.max(0.0) } else { v } as f32;
    }
}

/// Standard deviation of the per-step input noise of PsychRNN's tasks:
/// `sqrt(2 * 0.01 * sqrt(10) * sqrt(dt) * stim_noise^2)` (≈ 0.0447 at dt = 10, stim_noise = 0.1).
pub fn psychrnn_stimulus_noise_std(dt: f64, stim_noise: f64) -> f64 {
    (2.0 * 0.01 * 10f64.sqrt() * dt.sqrt() * stim_noise * stim_noise).sqrt()
}

/// Adds independent N(0, std²) noise to every entry of one time step's input vector.
pub fn add_gaussian_noise(mut x: ArrayViewMut1<'_, f32>, std: f64, rng: &mut Rng) {
    for v in &mut x {
        *v += (std * f64::standard_normal(rng)) as f32;
    }
}

/// Index of the largest value (the first one on ties, like NumPy's `argmax`).
fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// PsychRNN's `accuracy_function`: a trial is correct when the argmax over channels of the
/// time-mean of `output * mask` equals the argmax of the time-mean of `target * mask`.
/// `outputs` is `[T, B, N_out]`. Returns the fraction correct (0 for an empty batch).
pub fn choice_accuracy(batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
    let n = batch.n_trials();
    if n == 0 {
        return 0.0;
    }
    let masked_mean = |a: ArrayView3<'_, f32>, b: usize| {
        let a = a.index_axis(Axis(1), b);
        let m = batch.mask.index_axis(Axis(1), b);
        (0..a.shape()[1])
            .map(|c| a.column(c).iter().zip(m.column(c)).map(|(x, w)| f64::from(*x) * f64::from(*w)).sum::<f64>())
            .collect::<Vec<f64>>()
    };
    let correct = (0..n)
        .filter(|&b| {
            argmax(masked_mean(outputs, b).into_iter()) == argmax(masked_mean(batch.targets.view(), b).into_iter())
        })
        .count();
    correct as f64 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_std_matches_psychrnn_at_dt_10() {
        assert!((psychrnn_stimulus_noise_std(10.0, 0.1) - 0.002f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn choice_accuracy_uses_masked_time_means() {
        let mut batch = TrialBatch::zeros(2, 2, 1, 2);
        // Trial 0: target channel 1; trial 1: target channel 0. Only step 1 is masked in.
        for b in 0..2 {
            batch.mask[[1, b, 0]] = 1.0;
            batch.mask[[1, b, 1]] = 1.0;
        }
        batch.targets[[1, 0, 1]] = 1.0;
        batch.targets[[1, 0, 0]] = 0.2;
        batch.targets[[1, 1, 0]] = 1.0;
        batch.targets[[1, 1, 1]] = 0.2;
        let mut out = ndarray::Array3::<f32>::zeros((2, 2, 2));
        // Trial 0 answers 1 at the masked step (correct) despite a large unmasked channel-0 value.
        out[[0, 0, 0]] = 100.0;
        out[[1, 0, 1]] = 0.9;
        // Trial 1 answers 1 (wrong).
        out[[1, 1, 1]] = 0.9;
        assert_eq!(choice_accuracy(&batch, out.view()), 0.5);
    }
}
