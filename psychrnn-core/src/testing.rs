//! The conformance kit (feature `testing`): checks every plugin — bundled or a lab's — must pass.
//!
//! - [`check_gradients`]: the hand-written backward of a model, loss and regularisers against
//!   central finite differences of the objective, in `f64`, entry by entry.
//! - [`check_task_contract`]: shapes, finiteness, masks and seeded determinism of a task.
//! - [`check_model`], [`check_loss`], [`check_regularizer`], [`check_initializer`],
//!   [`check_config_round_trip`]: the contract of each plugin kind.
//! - [`shrink_for_smoke_test`]: a manifest cut down to a few small updates, to run examples in CI.

use ndarray::Array3;

use crate::Real;

use crate::loss::LossFunction;
use crate::model::Model;
use crate::objective::{BatchView, ObjectiveBuffers, evaluate_objective};
use crate::params::ParamSet;
use crate::regularizer::Regularizer;
use crate::rng::{Noise, Purpose, stream};
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
        let mut noise = noise_seed.map(|s| Noise::from(stream(s, Purpose::User, 0)));
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

/// Checks a task's contract on `n_trials` trials: array shapes `[steps, n, ·]` with the batch cut
/// to its longest trial (at most `ceil(T/dt)` steps) and no mask after a trial's end, finite
/// values, mask within [0, 1], one parameter record per trial, the same batch from the same
/// seed and a different one from another seed.
///
/// # Errors
/// A message saying which property fails.
pub fn check_task_contract(task: &dyn Task, n_trials: usize) -> Result<(), String> {
    let draw = |seed| task.generate_batch(n_trials, &mut stream(seed, Purpose::User, 0));
    let a = draw(11);
    // Tasks with trials of variable duration cut the batch to its longest trial.
    let steps = a.n_steps();
    if steps == 0 || steps > task.timing().n_steps() {
        return Err(format!("{steps} steps, expected 1 to T / dt = {}", task.timing().n_steps()));
    }
    if a.lengths.len() != n_trials || a.lengths.iter().max() != Some(&steps) {
        return Err(format!("trial lengths {:?} do not fit a batch of {steps} steps", a.lengths));
    }
    for (b, &len) in a.lengths.iter().enumerate() {
        if a.mask.slice(ndarray::s![len.., b, ..]).iter().any(|&m| m != 0.0) {
            return Err(format!("trial {b} has mask entries after its end (step {len})"));
        }
    }
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

/// Checks that a plugin's resolved configuration (what the lock records) builds the same plugin
/// again: `build(table)`, then `build` on its recorded configuration (without `type`), must
/// record the same configuration. `build` is normally a registry entry's constructor.
///
/// # Errors
/// A message with both configurations when they differ, or the build error.
pub fn check_config_round_trip<K: ?Sized>(
    build: impl Fn(&toml::Table) -> crate::Result<crate::Built<K>>,
    table: &toml::Table,
) -> Result<(), String> {
    let resolved = build(table).map_err(|e| format!("building from {table}: {e}"))?.config;
    let mut again = resolved.clone();
    again.remove("type");
    let second = build(&again).map_err(|e| format!("rebuilding from its own config {resolved}: {e}"))?.config;
    if second != resolved {
        return Err(format!("config changes on a round trip:\n{resolved}\nvs\n{second}"));
    }
    Ok(())
}

/// SHA-256 (hex) of a parameter set: each tensor's name, shape and little-endian `f32` bytes, in
/// name order. Tests pin it to show that a change leaves trained weights bit for bit the same.
pub fn params_sha256(params: &ParamSet<f32>) -> String {
    use sha2::Digest;
    let mut named: Vec<_> = params.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = sha2::Sha256::new();
    for (name, a) in named {
        h.update(name.as_bytes());
        h.update((a.nrows() as u64).to_le_bytes());
        h.update((a.ncols() as u64).to_le_bytes());
        for v in a.iter() {
            h.update(v.to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Random parameters (N(0, scale²) entries, both signs) for a model's declared tensors.
pub fn random_params(specs: &[crate::ParamSpec], scale: f64, seed: u64) -> ParamSet<f64> {
    let mut rng = stream(seed, Purpose::User, 2);
    let mut p = ParamSet::new();
    for s in specs {
        p.insert(
            s.name.clone(),
            ndarray::Array2::from_shape_simple_fn((s.rows, s.cols), || scale * f64::standard_normal(&mut rng)),
        );
    }
    p
}

/// A random batch `[T, B, ·]`: Gaussian inputs, uniform targets in (0.1, 0.9), a 0/1 mask.
pub fn random_batch(
    steps: usize,
    batch: usize,
    n_in: usize,
    n_out: usize,
    seed: u64,
) -> (Array3<f64>, Array3<f64>, Array3<f64>) {
    use rand::RngExt;
    let mut rng = stream(seed, Purpose::User, 3);
    let inputs = Array3::from_shape_simple_fn((steps, batch, n_in), || f64::standard_normal(&mut rng));
    let targets = Array3::from_shape_simple_fn((steps, batch, n_out), || 0.1 + 0.8 * rng.random::<f64>());
    let mask = Array3::from_shape_simple_fn((steps, batch, n_out), || f64::from(u8::from(rng.random::<f64>() < 0.7)));
    (inputs, targets, mask)
}

/// The model contract: trajectory shapes, a deterministic forward pass (also with seeded
/// noise), effective weights, export, and the backward pass against finite differences (with
/// MSE-like loss `loss`), on random parameters and a random batch.
///
/// # Errors
/// A message naming the failed property.
pub fn check_model(
    model: &dyn Model<f64>,
    loss: &dyn LossFunction<f64>,
    n_in: usize,
    n_out: usize,
) -> Result<GradientReport, String> {
    use crate::model::Trajectory;
    let params = random_params(model.param_specs(), 0.5, 1);
    let (inputs, targets, mask) = random_batch(5, 3, n_in, n_out, 2);
    let mut a = Trajectory::default();
    let mut b = Trajectory::default();
    model
        .forward(&params, inputs.view(), Some(&mut Noise::from(stream(4, Purpose::User, 0))), &mut a)
        .map_err(|e| e.to_string())?;
    model
        .forward(&params, inputs.view(), Some(&mut Noise::from(stream(4, Purpose::User, 0))), &mut b)
        .map_err(|e| e.to_string())?;
    if a.outputs != b.outputs || a.states != b.states {
        return Err("the same parameters, inputs and noise seed gave different trajectories".into());
    }
    let n_rec = model.n_rec();
    if a.outputs.shape() != [5, 3, n_out] || a.states.shape() != [5, 3, n_rec] || a.rates.shape() != [5, 3, n_rec] {
        return Err(format!(
            "trajectory shapes: outputs {:?}, states {:?}, rates {:?}",
            a.outputs.shape(),
            a.states.shape(),
            a.rates.shape()
        ));
    }
    if a.outputs.iter().any(|v| !v.is_finite()) {
        return Err("outputs are not finite".into());
    }
    model.effective_weights(&params).map_err(|e| e.to_string())?;
    let exported = model.export(&params).map_err(|e| e.to_string())?;
    if exported.is_empty() {
        return Err("export wrote no arrays".into());
    }
    let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
    check_gradients(model, loss, &[], &params, batch, Some(5), &[], (1e-6, 1e-5, 1e-8))
}

/// A loss's gradient with respect to the outputs against central differences, on random
/// outputs in (0.1, 0.9) (inside any clipping), targets and mask.
///
/// # Errors
/// A message naming the first entry that disagrees.
pub fn check_loss(loss: &dyn LossFunction<f64>) -> Result<(), String> {
    let (_, targets, mask) = random_batch(4, 3, 1, 2, 6);
    let (_, mut outputs, _) = random_batch(4, 3, 1, 2, 7);
    let mut d = Array3::zeros(outputs.raw_dim());
    loss.loss(outputs.view(), targets.view(), mask.view(), d.view_mut());
    let mut scratch = Array3::zeros(outputs.raw_dim());
    let h = 1e-6;
    let mut total = 0.0;
    for idx in ndarray::indices(outputs.raw_dim()) {
        let v = outputs[idx];
        outputs[idx] = v + h;
        let up = loss.loss(outputs.view(), targets.view(), mask.view(), scratch.view_mut());
        outputs[idx] = v - h;
        let down = loss.loss(outputs.view(), targets.view(), mask.view(), scratch.view_mut());
        outputs[idx] = v;
        let numeric = (up - down) / (2.0 * h);
        total += d[idx].abs();
        if (d[idx] - numeric).abs() > 1e-8 + 1e-5 * d[idx].abs().max(numeric.abs()) {
            return Err(format!("dL/doutputs{idx:?}: {} analytic vs {numeric} numeric", d[idx]));
        }
    }
    if total == 0.0 { Err("the loss gradient is identically zero".into()) } else { Ok(()) }
}

/// A regulariser's gradients (on the effective weights named in `shapes`, and on the rates)
/// against central differences of its penalty, on random values.
///
/// # Errors
/// A message naming the first entry that disagrees, or a penalty that is not finite.
pub fn check_regularizer(reg: &dyn Regularizer<f64>, shapes: &[(&str, usize, usize)]) -> Result<(), String> {
    use crate::regularizer::{RegularizerGrads, RegularizerInput};
    let mut effective = ParamSet::new();
    let mut rng = stream(8, Purpose::User, 0);
    for (name, r, c) in shapes {
        effective.insert(*name, ndarray::Array2::from_shape_simple_fn((*r, *c), || f64::standard_normal(&mut rng)));
    }
    let mut rates = Array3::from_shape_simple_fn((4, 2, shapes.first().map_or(3, |s| s.2)), || {
        f64::standard_normal(&mut rng).abs()
    });
    let penalty = |eff: &ParamSet<f64>, rates: &Array3<f64>| {
        let input = RegularizerInput { effective: eff, rates: rates.view() };
        let mut g = RegularizerGrads::zeros(eff, rates.view());
        let value = reg.penalty(&input, &mut g);
        (value, g)
    };
    let (value, grads) = penalty(&effective, &rates);
    if !value.is_finite() {
        return Err(format!("penalty {value} is not finite"));
    }
    let h = 1e-6;
    let close = |a: f64, n: f64| (a - n).abs() <= 1e-8 + 1e-5 * a.abs().max(n.abs());
    for (name, _, _) in shapes {
        let analytic = grads.effective.get(name).cloned().ok_or(format!("no gradient for {name}"))?;
        for idx in ndarray::indices(analytic.raw_dim()) {
            let mut probe = effective.clone();
            let base = probe.require(name).map_err(|e| e.to_string())?[idx];
            probe.require_mut(name).map_err(|e| e.to_string())?[idx] = base + h;
            let up = penalty(&probe, &rates).0;
            probe.require_mut(name).map_err(|e| e.to_string())?[idx] = base - h;
            let down = penalty(&probe, &rates).0;
            let numeric = (up - down) / (2.0 * h);
            if !close(analytic[idx], numeric) {
                return Err(format!("d/d{name}{idx:?}: {} analytic vs {numeric} numeric", analytic[idx]));
            }
        }
    }
    let analytic_rates = grads.rates().map(|r| r.to_owned());
    for idx in ndarray::indices(rates.raw_dim()) {
        let base = rates[idx];
        rates[idx] = base + h;
        let up = penalty(&effective, &rates).0;
        rates[idx] = base - h;
        let down = penalty(&effective, &rates).0;
        rates[idx] = base;
        let numeric = (up - down) / (2.0 * h);
        let analytic = analytic_rates.as_ref().map_or(0.0, |r| r[idx]);
        if !close(analytic, numeric) {
            return Err(format!("d/drates{idx:?}: {analytic} analytic vs {numeric} numeric"));
        }
    }
    Ok(())
}

/// An initialiser's contract: every declared tensor with its shape, finite values, and the same
/// values from the same seed.
///
/// # Errors
/// A message naming the failed property.
pub fn check_initializer(init: &dyn crate::WeightInitializer, ctx: &crate::InitContext<'_>) -> Result<(), String> {
    let draw = |seed| init.initialize(ctx, &mut stream(seed, Purpose::Init, 0)).map_err(|e| e.to_string());
    let a = draw(1)?;
    a.check_against(ctx.specs).map_err(|e| e.to_string())?;
    if let Some(name) = a.first_non_finite() {
        return Err(format!("{name} is not finite"));
    }
    if a != draw(1)? {
        return Err("the same seed gave different parameters".into());
    }
    Ok(())
}
