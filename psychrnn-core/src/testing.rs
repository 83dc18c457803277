//! The conformance kit (feature `testing`): checks every plugin — bundled or a lab's — must pass.
//!
//! - [`check_gradients`]: the hand-written backward of a model, loss and regularisers against
//!   central finite differences of the objective, in `f64`, entry by entry.
//! - [`check_task_contract`]: shapes, finiteness, masks and seeded determinism of a task.
//! - [`shrink_for_smoke_test`]: a manifest cut down to a few small updates, to run examples in CI.

use ndarray::Array3;

use crate::loss::LossFunction;
use crate::model::Model;
use crate::objective::{BatchView, ObjectiveBuffers, evaluate_objective};
use crate::params::ParamSet;
use crate::regularizer::Regularizer;
use crate::rng::{Purpose, stream};
use crate::task::{Task, TrialBatch};

/// Outcome of [`check_gradients`].
#[derive(Clone, Debug)]
pub struct GradientReport {
    /// Entries compared.
    pub checked: usize,
    /// The largest error `|analytic - numeric| / (atol + rtol * max(|analytic|, |numeric|))`
    /// seen (the check passes when it is <= 1).
    pub worst_ratio: f64,
    /// Where the worst error was: `(tensor, row, col, analytic, numeric)`.
    pub worst: Option<(String, usize, usize, f64, f64)>,
    /// Sum of |analytic gradient| over all checked entries (a check that compares only zeros
    /// proves nothing; callers assert this is positive).
    pub total_abs_gradient: f64,
}

/// The batch of a task converted to `f64`, for gradient checks.
pub fn batch_f64(batch: &TrialBatch) -> (Array3<f64>, Array3<f64>, Array3<f64>) {
    let c = |a: &Array3<f32>| a.mapv(f64::from);
    (c(&batch.inputs), c(&batch.targets), c(&batch.mask))
}

/// Compares the analytic gradient of `loss + regularisers` with respect to each entry of each
/// tensor in `params` named in `names` (all when empty) with a central difference of step `h`.
/// Recurrent noise, if `noise_seed` is given, is redrawn identically for every evaluation.
///
/// # Errors
/// A message naming the first entry whose error exceeds `atol + rtol * max(|a|, |n|)`.
#[allow(clippy::too_many_arguments)]
pub fn check_gradients(
    model: &dyn Model<f64>,
    loss: &dyn LossFunction<f64>,
    regularizers: &[Box<dyn Regularizer<f64>>],
    params: &ParamSet<f64>,
    batch: BatchView<'_, f64>,
    noise_seed: Option<u64>,
    names: &[&str],
    (h, rtol, atol): (f64, f64, f64),
) -> Result<GradientReport, String> {
    let mut buffers = ObjectiveBuffers::default();
    let eval = |p: &ParamSet<f64>, grad: bool, buffers: &mut ObjectiveBuffers<f64>| {
        let mut noise = noise_seed.map(|s| stream(s, Purpose::User, 0));
        evaluate_objective(model, loss, regularizers, p, batch, noise.as_mut(), buffers, grad)
            .map(|v| v.total())
            .map_err(|e| e.to_string())
    };
    eval(params, true, &mut buffers)?;
    let analytic = buffers.grads.clone();
    let mut report = GradientReport { checked: 0, worst_ratio: 0.0, worst: None, total_abs_gradient: 0.0 };
    let mut probe = params.clone();
    let mut scratch = ObjectiveBuffers::default();
    for (name, value) in params.iter() {
        if !names.is_empty() && !names.contains(&name) {
            continue;
        }
        let grad = analytic.get(name).ok_or_else(|| format!("backward gave no gradient for {name}"))?;
        for ((i, j), &v) in value.indexed_iter() {
            probe.require_mut(name).map_err(|e| e.to_string())?[[i, j]] = v + h;
            let up = eval(&probe, false, &mut scratch)?;
            probe.require_mut(name).map_err(|e| e.to_string())?[[i, j]] = v - h;
            let down = eval(&probe, false, &mut scratch)?;
            probe.require_mut(name).map_err(|e| e.to_string())?[[i, j]] = v;
            let numeric = (up - down) / (2.0 * h);
            let a = grad[[i, j]];
            let ratio = (a - numeric).abs() / (atol + rtol * a.abs().max(numeric.abs()));
            report.checked += 1;
            report.total_abs_gradient += a.abs();
            if ratio > report.worst_ratio {
                report.worst_ratio = ratio;
                report.worst = Some((name.to_string(), i, j, a, numeric));
            }
        }
    }
    if report.worst_ratio > 1.0 {
        let (n, i, j, a, num) = report.worst.clone().unwrap_or_default();
        return Err(format!("gradient of {n}[{i}, {j}]: backward gives {a:e}, finite differences {num:e}"));
    }
    Ok(report)
}

/// Checks a task's contract on `n_trials` trials: array shapes `[ceil(T/dt), n, ·]`, finite
/// values, mask within [0, 1], one parameter record per trial, the same batch from the same
/// seed and a different one from another seed.
///
/// # Errors
/// A message saying which property fails.
pub fn check_task_contract(task: &dyn Task, n_trials: usize) -> Result<(), String> {
    let draw = |seed| task.generate_batch(n_trials, &mut stream(seed, Purpose::User, 0));
    let a = draw(11);
    let steps = task.timing().n_steps();
    let want = |n: usize| [steps, n_trials, n];
    if a.inputs.shape() != want(task.n_in()) {
        return Err(format!("inputs have shape {:?}, expected {:?}", a.inputs.shape(), want(task.n_in())));
    }
    if a.targets.shape() != want(task.n_out()) || a.mask.shape() != want(task.n_out()) {
        return Err(format!(
            "targets {:?} / mask {:?}, expected {:?}",
            a.targets.shape(),
            a.mask.shape(),
            want(task.n_out())
        ));
    }
    if a.trial_params.len() != n_trials {
        return Err(format!("{} trial records for {n_trials} trials", a.trial_params.len()));
    }
    if a.inputs.iter().chain(a.targets.iter()).any(|v| !v.is_finite()) {
        return Err("inputs or targets hold NaN or infinity".into());
    }
    if a.mask.iter().any(|&m| !(0.0..=1.0).contains(&m)) {
        return Err("mask values outside [0, 1]".into());
    }
    if a != draw(11) {
        return Err("the same seed gave a different batch".into());
    }
    if a == draw(12) {
        return Err("two seeds gave the same batch".into());
    }
    Ok(())
}

/// Cuts a manifest down to `updates` updates of 8 trials (test batch 8, loss logged every update,
/// periodic weights and curriculum checks every update, quiet), keeping the network and task
/// as they are, so CI can run every example manifest quickly.
pub fn shrink_for_smoke_test(manifest: &mut crate::Manifest, updates: u64) {
    const BATCH: u64 = 8;
    manifest.task.insert("N_batch".into(), toml::Value::Integer(BATCH as i64));
    let t = &mut manifest.training;
    t.training_iters = updates * BATCH;
    t.test_batch_size = BATCH as usize;
    t.loss_epoch = 1;
    t.verbosity = false;
    if t.save_training_weights_epoch.is_some() {
        t.save_training_weights_epoch = Some(1);
    }
    if let Some(c) = &mut manifest.curriculum {
        c.metric_epoch = 1;
    }
}
