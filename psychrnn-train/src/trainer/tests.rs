//! The trainer's steps on a small test model whose gradient is known in closed form: a linear
//! readout `z_t = u_t W^T` (one parameter `W`, no recurrence), trained on PsychRNN's perceptual
//! discrimination task with the mean squared error and plain SGD.

use ndarray::{Array2, Array3, ArrayView3, Axis};
use psychrnn_core::npz::NpyArray;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{
    BackwardSeeds, DefaultInit, Model, ModelContext, Noise, ParamRole, ParamSet, ParamSpec, Registry, Result,
};

use super::*;

/// `z_t = u_t W^T`: the smallest model with a trainable parameter.
struct Linear {
    specs: Vec<ParamSpec>,
}

impl Model<f32> for Linear {
    fn n_rec(&self) -> usize {
        1
    }
    fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }
    fn effective_weights(&self, params: &ParamSet<f32>) -> Result<ParamSet<f32>> {
        Ok(params.clone())
    }
    fn forward(
        &self,
        params: &ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        _noise: Option<&mut Noise>,
        traj: &mut Trajectory<f32>,
    ) -> Result<()> {
        let w = params.require("W")?;
        let (steps, batch, _) = inputs.dim();
        traj.resize(steps, batch, 1, w.nrows())?;
        for (t, u) in inputs.axis_iter(Axis(0)).enumerate() {
            traj.outputs.index_axis_mut(Axis(0), t).assign(&u.dot(&w.t()));
        }
        Ok(())
    }
    fn backward(
        &self,
        _params: &ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        _traj: &Trajectory<f32>,
        seeds: BackwardSeeds<'_, f32>,
        grads: &mut ParamSet<f32>,
    ) -> Result<()> {
        let g = grads.require_mut("W")?;
        g.fill(0.0);
        for (d, u) in seeds.d_outputs.axis_iter(Axis(0)).zip(inputs.axis_iter(Axis(0))) {
            *g += &d.t().dot(&u);
        }
        Ok(())
    }
    fn export(&self, params: &ParamSet<f32>) -> Result<Vec<NpyArray>> {
        let w = params.require("W")?;
        Ok(vec![NpyArray::f32("W", &[w.nrows(), w.ncols()], w.iter().copied().collect())])
    }
}

/// `[model] type = "linear_test"` takes no parameters.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LinearConfig {}

impl Plugin for Linear {
    type Kind = dyn Model<f32>;
    type Config = LinearConfig;
    const TAG: &'static str = "linear_test";
    const DOC: &'static str = "a linear readout, for the trainer's tests";

    fn build(_: LinearConfig, ctx: &ModelContext, _: &BuildContext) -> Result<Box<dyn Model<f32>>> {
        let spec = ParamSpec::new("W", ctx.n_out, ctx.n_in, ParamRole::Other)
            .with_init(DefaultInit::Normal { mean: 0.0, std: 0.1 });
        Ok(Box::new(Linear { specs: vec![spec] }))
    }
}

fn registry() -> Registry {
    let mut r = psychrnn_plugins::registry().unwrap();
    r.add::<Linear>("psychrnn-train tests").unwrap();
    r
}

const MANIFEST: &str = r#"
seed = 3
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 200
N_batch = 4
[model]
type = "linear_test"
[initializer]
type = "random"
[optimizer]
type = "sgd"
learning_rate = 0.1
[training]
training_iters = 12
loss_epoch = 1
verbosity = false
"#;

/// Held by every test here: the thread count that steps set and restore is process-wide, and
/// one of the tests checks that it comes back.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn experiment(extra: &str) -> Experiment {
    Experiment::from_toml(&format!("{MANIFEST}{extra}"), &registry()).unwrap()
}

/// PsychRNN's MSE and its gradient for the linear model, computed directly.
fn mse_and_gradient(w: &Array2<f32>, batch: &TrialBatch) -> (f64, Array2<f64>) {
    let (steps, trials, n_out) = batch.targets.dim();
    let count = (steps * trials * n_out) as f64;
    let (mut loss, mut grad) = (0.0, Array2::<f64>::zeros(w.raw_dim()));
    for t in 0..steps {
        for b in 0..trials {
            for o in 0..n_out {
                let z: f64 = (0..w.ncols()).map(|i| f64::from(w[[o, i]]) * f64::from(batch.inputs[[t, b, i]])).sum();
                let m = f64::from(batch.mask[[t, b, o]]);
                let e = m * (z - f64::from(batch.targets[[t, b, o]]));
                loss += e * e / count;
                for i in 0..w.ncols() {
                    grad[[o, i]] += 2.0 * e * m * f64::from(batch.inputs[[t, b, i]]) / count;
                }
            }
        }
    }
    (loss, grad)
}

#[test]
fn an_update_reports_the_loss_and_gradient_and_steps_against_the_gradient() {
    let _serial = serial();
    let exp = experiment("");
    let mut trainer = Trainer::new(&exp).unwrap();
    let before = trainer.params().require("W").unwrap().clone();
    let batch = trainer.next_batch();
    let (loss, grad) = mse_and_gradient(&before, &batch);
    let report = trainer.update(&batch).unwrap();
    assert_eq!((report.iteration, trainer.iteration()), (1, 1));
    assert!((report.loss - loss).abs() < 1e-5 * loss, "{} vs {loss}", report.loss);
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    assert!((report.gradient_norm - norm).abs() < 1e-4 * norm, "{} vs {norm}", report.gradient_norm);
    assert_eq!(report.gradient_norms.len(), 1);
    assert!(!report.clipped && !report.safeguarded && report.rejected.is_none());
    let after = trainer.params().require("W").unwrap();
    for ((w0, w1), g) in before.iter().zip(after.iter()).zip(grad.iter()) {
        assert!((f64::from(*w1) - (f64::from(*w0) - 0.1 * g)).abs() < 1e-5, "SGD step");
    }
}

#[test]
fn clipping_is_reported_and_bounds_the_step() {
    let _serial = serial();
    let exp = experiment("clip_grads = true\nclip_mode = \"global_norm\"\nclip_norm = 1e-3\n");
    let mut trainer = Trainer::new(&exp).unwrap();
    let before = trainer.params().require("W").unwrap().clone();
    let report = trainer.update_next().unwrap();
    assert!(report.clipped && report.gradient_norm > 1e-3);
    let step = (trainer.params().require("W").unwrap() - &before).mapv(|v| f64::from(v).powi(2)).sum().sqrt();
    assert!((step - 0.1 * 1e-3).abs() < 1e-6, "step {step}");
}

#[test]
fn a_non_finite_loss_is_refused_and_changes_nothing() {
    let _serial = serial();
    let exp = experiment("");
    let mut trainer = Trainer::new(&exp).unwrap();
    let before = trainer.params().clone();
    let mut batch = trainer.next_batch();
    batch.inputs[[0, 0, 0]] = f32::NAN;
    let report = trainer.update(&batch).unwrap();
    assert_eq!(report.rejected.as_deref(), Some("the loss"));
    assert_eq!((trainer.iteration(), trainer.params()), (0, &before));
    // The next update counts as the first.
    assert_eq!(trainer.update_next().unwrap().iteration, 1);
}

#[test]
fn stepping_by_hand_equals_running_to_the_end_and_resuming() {
    let _serial = serial();
    let exp = experiment("");
    let straight = train(&exp, &mut Silent).unwrap();
    assert_eq!(straight.iterations, 3);
    let mut by_hand = Trainer::new(&exp).unwrap();
    by_hand.update_next().unwrap();
    let batch = by_hand.next_batch();
    by_hand.update(&batch).unwrap();
    let resumed = train_from(&exp, Some(by_hand.state()), &mut Silent).unwrap();
    assert_eq!(resumed.params, straight.params);
    by_hand.update_next().unwrap();
    assert_eq!(by_hand.params(), &straight.params);
}

#[test]
fn raw_parameters_go_in_and_out_and_are_checked() {
    let _serial = serial();
    let exp = experiment("");
    let mut params = ParamSet::new();
    params.insert("W", Array2::from_elem((2, 2), 0.5f32));
    let mut trainer = Trainer::with_params(&exp, params.clone()).unwrap();
    assert_eq!(trainer.params(), &params);
    assert_eq!(trainer.effective_weights().unwrap(), params);
    let mut wrong = ParamSet::new();
    wrong.insert("W", Array2::zeros((3, 2)));
    let message = trainer.set_params(wrong).unwrap_err().to_string();
    assert!(message.contains('W') && message.contains('3'), "{message}");
    // A forward pass on given inputs: z = u W^T.
    let inputs = Array3::from_elem((5, 3, 2), 1.0f32);
    let traj = trainer.forward(inputs.view(), None).unwrap();
    assert_eq!(traj.outputs.shape(), [5, 3, 2]);
    assert!(traj.outputs.iter().all(|&z| (z - 1.0).abs() < 1e-6));
}

#[test]
fn process_settings_are_restored_after_each_step() {
    let _serial = serial();
    let exp = experiment("threads = 2\n");
    let before = psychrnn_linalg::threads();
    let mut trainer = Trainer::new(&exp).unwrap();
    trainer.update_next().unwrap();
    trainer.log().unwrap();
    assert_eq!(psychrnn_linalg::threads(), before);
}

#[test]
fn the_log_curriculum_and_cutoff_steps_report_and_stop() {
    let _serial = serial();
    let exp = experiment("performance_cutoff = -1.0\nperformance_epoch = 1\n");
    let mut trainer = Trainer::new(&exp).unwrap();
    assert_eq!(trainer.log().unwrap(), None, "nothing to log before the first update");
    trainer.update_next().unwrap();
    let row = trainer.log().unwrap().unwrap();
    assert_eq!((row.iteration, row.trials), (1, 4));
    assert!(row.loss > 0.0 && (0.0..=1.0).contains(&row.accuracy));
    assert!(trainer.check_curriculum().unwrap().is_none(), "no curriculum");
    let (kept, stop) = trainer.check_cutoff().unwrap().unwrap();
    assert_eq!(kept.unwrap().iteration, 1);
    assert!(matches!(stop, Some(StopReason::PerformanceCutoff { iteration: 1, .. })));
    // Through run: the cutoff stops training after the first update.
    assert_eq!(train(&exp, &mut Silent).unwrap().iterations, 1);

    let staged = experiment(
        "[curriculum]\nmetric_epoch = 1\n[[curriculum.stages]]\nthreshold = -1.0\ntask = { coherence = 0.5 }\n\
         [[curriculum.stages]]\nthreshold = -1.0\ntask = { coherence = 0.1 }\n",
    );
    let mut trainer = Trainer::new(&staged).unwrap();
    trainer.update_next().unwrap();
    let (record, stop) = trainer.check_curriculum().unwrap().unwrap();
    assert_eq!((record.stage, trainer.stage(), stop), (0, 1, None));
    trainer.update_next().unwrap();
    let (_, stop) = trainer.check_curriculum().unwrap().unwrap();
    assert_eq!(stop, Some(StopReason::CurriculumComplete { iteration: 2 }));
}

/// Counts what it is told.
#[derive(Default)]
struct Counter {
    updates: u64,
    logs: usize,
    ended: Option<StopReason>,
}

impl TrainingObserver for Counter {
    fn on_update(&mut self, report: &UpdateReport) {
        self.updates = report.iteration;
    }
    fn on_log(&mut self, _: &MetricsRow) {
        self.logs += 1;
    }
    fn on_end(&mut self, reason: &StopReason) {
        self.ended = Some(reason.clone());
    }
}

#[test]
fn observers_are_parts_each_told_of_every_event() {
    let _serial = serial();
    let exp = experiment("");
    let (mut a, mut b) = (Counter::default(), Counter::default());
    train(&exp, &mut Observers(vec![&mut a, &mut b])).unwrap();
    for c in [&a, &b] {
        assert_eq!((c.updates, c.logs, c.ended.clone()), (3, 3, Some(StopReason::TrainingItersReached)));
    }
}
