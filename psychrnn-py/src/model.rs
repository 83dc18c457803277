//! `NativeModel`: the network behind PsychRNN's `Basic` and `LSTM` (`psychrnn_rs.backend`). It
//! is built from a manifest (the Python side writes PsychRNN's `params` as one), holds the
//! current weights, trains with the same trainer as the CLI (so a bundled task and a seed give
//! the CLI's weights bit for bit), runs inputs, and exports its weights as `weights.npz` holds
//! them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use psychrnn_core::npz::{NpyArray, npz_bytes, write_npz};
use psychrnn_core::{Manifest, ParamSet};
use psychrnn_train::trainer::{MetricRecord, initial_params};
use psychrnn_train::{Experiment, MetricsRow, StopReason, Trainer, TrainingObserver, UpdateReport};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert;
use crate::errors::IntoPyResult;
use crate::interrupt;
use crate::objects::{self, TrainingContext};

/// An experiment from a manifest dict; relative paths start at `base_dir`. Its build warnings
/// become Python warnings.
pub fn experiment(py: Python<'_>, manifest: &Bound<'_, PyDict>, base_dir: &Path) -> PyResult<Experiment> {
    let text = convert::manifest_text(manifest)?;
    let parsed = Manifest::parse(&text, &base_dir.join("params")).py_err()?;
    let registry = crate::registry().py_err()?;
    let exp = Experiment::from_manifest(&parsed, &registry, "model", base_dir).py_err()?;
    for w in &exp.warnings {
        PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyUserWarning>(), &std::ffi::CString::new(w.as_str())?, 1)?;
    }
    Ok(exp)
}

/// What training returns to Python: `(losses, training_time, initialization_time, checks)`.
type TrainResult = (Vec<f64>, f64, f64, Vec<(f64, usize)>);

/// A network and its current weights.
#[pyclass(module = "psychrnn_rs._native")]
pub struct NativeModel {
    exp: Arc<Experiment>,
    params: ParamSet<f32>,
    base_dir: PathBuf,
}

/// What the Python front-end's training does while it runs: PsychRNN's loss list and printed
/// lines, periodic weight files, the metrics' epoch and losses, Ctrl-C.
struct FrontEndObserver {
    losses: Vec<f64>,
    contexts: Vec<Arc<TrainingContext>>,
    verbose: bool,
    metric: String,
    curriculum: bool,
    training_weights_path: Option<String>,
    interrupted: Arc<AtomicBool>,
}

impl FrontEndObserver {
    fn print(&self, line: &str) {
        if self.verbose {
            Python::attach(|py| {
                let _ = py.import("builtins").and_then(|b| b.call_method1("print", (line,)));
            });
        }
    }
}

impl TrainingObserver for FrontEndObserver {
    fn on_update(&mut self, report: &UpdateReport) {
        for c in &self.contexts {
            c.epoch.store(report.iteration, Ordering::Relaxed);
        }
    }

    fn on_log(&mut self, row: &MetricsRow) {
        let loss = row.loss + row.regularization;
        self.losses.push(loss);
        for c in &self.contexts {
            if let Ok(mut l) = c.losses.lock() {
                l.push(loss);
            }
        }
        self.print(&psychrnn_cli::observer::log_line(row, &self.metric));
    }

    fn on_weights(&mut self, iteration: u64, arrays: &[NpyArray]) -> psychrnn_core::Result<()> {
        match &self.training_weights_path {
            Some(prefix) => write_npz(Path::new(&format!("{prefix}{iteration}.npz")), arrays),
            None => Ok(()),
        }
    }

    fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn on_metric(&mut self, record: &MetricRecord) {
        self.print(&psychrnn_cli::observer::metric_line(record, self.curriculum));
    }

    fn on_end(&mut self, reason: &StopReason) {
        self.print(&format!("Optimization finished: {reason}"));
    }
}

#[pymethods]
impl NativeModel {
    /// The network of `manifest` (a dict of manifest sections; its task may be a held Python
    /// task) with its initialiser's weights; relative paths start at `base_dir`.
    #[new]
    #[pyo3(signature = (manifest, base_dir = None))]
    fn new(py: Python<'_>, manifest: &Bound<'_, PyDict>, base_dir: Option<PathBuf>) -> PyResult<Self> {
        let base_dir = base_dir.unwrap_or_else(|| PathBuf::from("."));
        let exp = experiment(py, manifest, &base_dir)?;
        let params = initial_params(&exp).py_err()?;
        Ok(NativeModel { exp: Arc::new(exp), params, base_dir })
    }

    /// Trains the experiment of `manifest` (this network's sections with a task and training
    /// options) from its initialiser's weights, as PsychRNN's `train` re-initialises, and keeps
    /// the trained weights. `held` are the handles of the Python metrics it uses (they are told
    /// the epoch and losses). Returns `(losses, training_time, initialization_time, checks)`,
    /// `checks` the curriculum's or cutoff's metric checks as `(value, stage)`.
    #[pyo3(signature = (manifest, held = Vec::new(), verbose = true, training_weights_path = None))]
    fn train(
        &mut self,
        py: Python<'_>,
        manifest: &Bound<'_, PyDict>,
        held: Vec<u64>,
        verbose: bool,
        training_weights_path: Option<String>,
    ) -> PyResult<TrainResult> {
        let exp = experiment(py, manifest, &self.base_dir)?;
        let contexts: Vec<Arc<TrainingContext>> =
            held.iter().filter_map(|h| objects::get(py, *h).map(|(_, c)| c)).collect();
        for c in &contexts {
            c.loss_epoch.store(exp.training.loss_epoch, Ordering::Relaxed);
            c.log_answered.store(0, Ordering::Relaxed);
            c.epoch.store(0, Ordering::Relaxed);
        }
        let mut observer = FrontEndObserver {
            losses: Vec::new(),
            contexts,
            verbose,
            metric: exp.metric_name(),
            curriculum: exp.curriculum.is_some(),
            training_weights_path,
            interrupted: interrupt::flag(),
        };
        objects::take_error();
        let outcome = interrupt::run(py, || Trainer::new(&exp).and_then(|t| t.run(&mut observer)));
        let outcome = match outcome? {
            Ok(outcome) => outcome,
            Err(e) => return Err(objects::take_error().unwrap_or_else(|| crate::errors::to_py(&e))),
        };
        if let StopReason::NonFinite { .. } = outcome.stop {
            let text = std::ffi::CString::new(format!(
                "training stopped: {}; the weights are the last good ones",
                outcome.stop
            ))?;
            PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyRuntimeWarning>(), &text, 1)?;
        }
        let times = (outcome.training_seconds, outcome.init_seconds);
        let checks = outcome.metric_history.iter().map(|r| (r.value, r.stage)).collect();
        self.params = outcome.params;
        self.exp = Arc::new(exp);
        Ok((observer.losses, times.0, times.1, checks))
    }

    /// Runs inputs `x` (`[batch, time, N_in]`, float32) without noise and returns
    /// `(outputs [batch, time, N_out], states [batch, time, N_rec])`, as PsychRNN's `test`.
    fn test<'py>(&self, py: Python<'py>, x: convert::Array<'py>) -> PyResult<convert::NumpyTrajectory<'py>> {
        let inputs = convert::time_major(&x);
        let (exp, params) = (&self.exp, &self.params);
        let trajectory = py.detach(|| {
            let _scope = psychrnn_linalg::ComputeScope::enter(exp.training.threads);
            let mut trajectory = psychrnn_core::Trajectory::default();
            exp.model.forward(params, inputs.view(), None, &mut trajectory).map(|()| trajectory)
        });
        let trajectory = trajectory.py_err()?;
        Ok((convert::to_numpy(py, trajectory.outputs.view()), convert::to_numpy(py, trajectory.states.view())))
    }

    /// The weights as `weights.npz` holds them (effective weights, masks, Dale's matrices,
    /// `dale_ratio`, ...), as the bytes of an `.npz` archive.
    fn weights_npz<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let arrays = self.exp.model.export(&self.params).py_err()?;
        Ok(PyBytes::new(py, &npz_bytes(&arrays).py_err()?))
    }

    /// Writes the weights to `path` (an `.npz` file, as `weights.npz`).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let arrays = self.exp.model.export(&self.params).py_err()?;
        write_npz(&path, &arrays).py_err()
    }

    /// The resolved manifest of the network's experiment (`manifest.lock.toml`'s content).
    fn lock_toml(&self) -> PyResult<String> {
        self.exp.lock_manifest().to_toml().py_err()
    }

    /// `(N_in, N_rec, N_out)`.
    fn sizes(&self) -> (usize, usize, usize) {
        (self.exp.task.n_in(), self.exp.model.n_rec(), self.exp.task.n_out())
    }
}
