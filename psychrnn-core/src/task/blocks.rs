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
    choice_accuracy_over(batch, outputs, |_| true)
}

/// [`choice_accuracy`] over the trials `b` with `counted(b)` only (e.g. leaving out catch
/// trials); 0 when none is counted.
pub fn choice_accuracy_over(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, counted: impl Fn(usize) -> bool) -> f64 {
    let masked_mean = |a: ArrayView3<'_, f32>, b: usize| {
        let a = a.index_axis(Axis(1), b);
        let m = batch.mask.index_axis(Axis(1), b);
        (0..a.shape()[1])
            .map(|c| a.column(c).iter().zip(m.column(c)).map(|(x, w)| f64::from(*x) * f64::from(*w)).sum::<f64>())
            .collect::<Vec<f64>>()
    };
    let (mut correct, mut n) = (0usize, 0usize);
    for b in (0..batch.n_trials()).filter(|&b| counted(b)) {
        n += 1;
        let chosen = argmax(masked_mean(outputs, b).into_iter());
        correct += usize::from(chosen == argmax(masked_mean(batch.targets.view(), b).into_iter()));
    }
    if n == 0 { 0.0 } else { correct as f64 / n as f64 }
}

/// The channel with the largest output at the last step of trial `b` (PyCog's choice).
pub fn choice_at_end(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, b: usize) -> usize {
    let last = batch.last_step(b);
    argmax((0..outputs.shape()[2]).map(|c| f64::from(outputs[[last, b, c]])))
}

/// The correct choice recorded under `choice` in a trial's parameters; `None` for catch trials.
pub fn recorded_choice(params: &crate::task::TrialParams) -> Option<usize> {
    params.get("choice").and_then(serde_json::Value::as_u64).map(|c| c as usize)
}

/// PyCog's `performance_2afc`: the fraction of non-catch trials (those recording a `choice`)
/// whose choice at the trial's last step is correct; 0 when all are catch trials.
pub fn accuracy_at_end(batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
    let (mut correct, mut counted) = (0usize, 0usize);
    for (b, p) in batch.trial_params.iter().enumerate() {
        if let Some(choice) = recorded_choice(p) {
            counted += 1;
            correct += usize::from(choice_at_end(batch, outputs, b) == choice);
        }
    }
    if counted == 0 { 0.0 } else { correct as f64 / counted as f64 }
}

/// PyCog's `performance_2afc_min_condition`: the smallest fraction correct over conditions
/// (trials grouped by the values of `keys` in their parameters), catch trials left out.
pub fn min_condition_accuracy(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, keys: &[&str]) -> f64 {
    let mut by_condition: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (b, p) in batch.trial_params.iter().enumerate() {
        if let Some(choice) = recorded_choice(p) {
            let condition: Vec<String> =
                keys.iter().map(|k| p.get(*k).map(ToString::to_string).unwrap_or_default()).collect();
            let entry = by_condition.entry(condition.join(",")).or_default();
            entry.0 += usize::from(choice_at_end(batch, outputs, b) == choice);
            entry.1 += 1;
        }
    }
    by_condition
        .values()
        .map(|&(c, n)| c as f64 / n as f64)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))))
        .unwrap_or(0.0)
}

/// Root-mean-square error of `z` against `y` over the entries where `m` is set (weighted by
/// `m`; 0 without masked entries).
fn masked_rmse<D: ndarray::Dimension>(
    z: ndarray::ArrayView<'_, f32, D>,
    y: ndarray::ArrayView<'_, f32, D>,
    m: ndarray::ArrayView<'_, f32, D>,
) -> f64 {
    let (mut sum, mut weight) = (0.0, 0.0);
    for ((z, y), m) in z.iter().zip(&y).zip(&m) {
        let m = f64::from(*m);
        sum += m * (f64::from(*z) - f64::from(*y)).powi(2);
        weight += m;
    }
    if weight > 0.0 { (sum / weight).sqrt() } else { 0.0 }
}

/// Root-mean-square error over the masked entries of trial `b` (0 without masked entries).
pub fn trial_rmse(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, b: usize) -> f64 {
    masked_rmse(outputs.index_axis(Axis(1), b), batch.targets.index_axis(Axis(1), b), batch.mask.index_axis(Axis(1), b))
}

/// PyCog's monitored error: the root-mean-square error over every masked entry of the batch.
pub fn batch_rmse(batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
    masked_rmse(outputs, batch.targets.view(), batch.mask.view())
}

/// The fraction of trials whose own RMSE is at most `tolerance` (for output-tracking tasks).
pub fn fraction_within_rmse(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, tolerance: f64) -> f64 {
    let n = batch.n_trials();
    if n == 0 {
        return 0.0;
    }
    (0..n).filter(|&b| trial_rmse(batch, outputs, b) <= tolerance).count() as f64 / n as f64
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

    #[test]
    fn pycog_measures_read_each_trials_own_last_step_and_skip_catch_trials() {
        // Three trials of lengths 3, 2, 3; the third is a catch trial (no `choice`).
        let mut batch = TrialBatch::zeros(3, 3, 1, 2);
        batch.lengths = vec![3, 2, 3];
        for (b, choice) in [Some(1u64), Some(0), None].into_iter().enumerate() {
            let mut p = crate::task::TrialParams::new();
            if let Some(c) = choice {
                p.insert("choice".into(), c.into());
                p.insert("f1".into(), (10 * b).into());
            }
            batch.trial_params.push(p);
        }
        let mut out = ndarray::Array3::<f32>::zeros((3, 3, 2));
        out[[2, 0, 1]] = 1.0; // trial 0 ends choosing 1: correct
        out[[1, 1, 1]] = 1.0; // trial 1 ends (step 1) choosing 1: wrong...
        out[[2, 1, 0]] = 5.0; // ...whatever its padding says
        assert_eq!(choice_at_end(&batch, out.view(), 1), 1);
        assert_eq!(accuracy_at_end(&batch, out.view()), 0.5);
        assert_eq!(min_condition_accuracy(&batch, out.view(), &["f1"]), 0.0);
        out[[1, 1, 0]] = 2.0;
        assert_eq!(min_condition_accuracy(&batch, out.view(), &["f1"]), 1.0);

        batch.targets.fill(0.5);
        batch.mask.fill(0.0);
        batch.mask[[0, 0, 0]] = 1.0;
        batch.mask[[0, 1, 0]] = 1.0;
        out[[0, 0, 0]] = 0.5;
        out[[0, 1, 0]] = 1.5;
        assert_eq!(trial_rmse(&batch, out.view(), 0), 0.0);
        assert_eq!(trial_rmse(&batch, out.view(), 1), 1.0);
        assert!((batch_rmse(&batch, out.view()) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(fraction_within_rmse(&batch, out.view(), 0.05), 2.0 / 3.0);
    }
}
