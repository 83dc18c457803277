//! The run directory: what a training run leaves for the scientist.
//!
//! ```text
//! manifest.lock.toml   the resolved experiment (every default written; train it to replay)
//! weights.npz          effective weights under PsychRNN's keys (numpy.load-able)
//! metrics.csv          iteration, trials, loss, regularization, accuracy, stage, wall_seconds
//! curriculum.csv       iteration, trials, stage, value of each curriculum check (with a curriculum)
//! plots/               loss.svg (log scale), accuracy.svg or <metric>.svg (with the checks and stage changes)
//! summary.json         stop reason, final test accuracy, metric and loss, timings, versions
//! test_trials.npz      the final test batch: x, y, mask, outputs, states ([B, T, N], PsychRNN's layout;
//!                      states of the first trials within `test_states_mb`)
//! checkpoint/          checkpoint.npz: the latest resumable state (`psychrnn resume`)
//! test_trials.json     the conditions of each test trial
//! ```

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::experiment::Experiment;
use crate::plot::{Chart, Series};
use crate::run_lock::RunLock;
use crate::trainer::{Evaluation, StopReason, TrainingOutcome};
use psychrnn_core::error::{Error, Result};
use psychrnn_core::npz::{NpyArray, write_atomically, write_npz};

/// The content of `summary.json`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// Run name.
    pub name: String,
    /// Master seed.
    pub seed: u64,
    /// Why training stopped (machine-readable).
    pub stop_reason: StopReason,
    /// Why training stopped (for people).
    pub stop_message: String,
    /// Updates done.
    pub iterations: u64,
    /// Training trials seen.
    pub trials: u64,
    /// Accuracy on a fresh test batch (the task's accuracy function).
    pub final_accuracy: f64,
    /// The experiment's metric (`[metric]`'s type: `accuracy`, `rmse`, ...), which
    /// `performance_cutoff` and curricula compare against.
    pub metric: String,
    /// That metric on the same test batch: the run's score (RMSE for trajectory tasks, whose
    /// accuracy means nothing).
    pub final_metric: f64,
    /// Loss on that batch.
    pub final_loss: f64,
    /// Trials in the test batch.
    pub test_trials: usize,
    /// The first this-many test trials have their unit states in `test_trials.npz`
    /// (`[training] test_states_mb`).
    pub test_states_trials: usize,
    /// Curriculum stage reached (equal to `curriculum_stages` when complete).
    pub final_stage: usize,
    /// Number of curriculum stages (0 without a curriculum).
    pub curriculum_stages: usize,
    /// Seconds spent building and initialising.
    pub init_seconds: f64,
    /// Seconds spent training.
    pub training_seconds: f64,
    /// psychrnn version.
    pub psychrnn_version: String,
}

impl RunSummary {
    /// The file name of a run's summary.
    pub const FILE: &'static str = "summary.json";

    /// Reads `dir/summary.json` (written last, so its presence means the run's files are
    /// complete).
    ///
    /// # Errors
    /// [`Error::Read`] if it cannot be read; [`Error::Invalid`] naming the file if it is not a
    /// summary.
    pub fn read(dir: &Path) -> Result<RunSummary> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))
    }
}

/// Creates `dir` and writes `manifest.lock.toml` (before training, so a killed run can be
/// resumed).
///
/// # Errors
/// [`Error::Write`] naming the directory or file.
pub fn write_lock(dir: &Path, exp: &Experiment) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let lock = exp.lock_manifest_in(dir).to_toml()?;
    let header = "# Resolved by psychrnn: every default is written out. `psychrnn replay` (or `train`) on this file reproduces the run.\n";
    write_atomically(&dir.join("manifest.lock.toml"), format!("{header}{lock}").as_bytes())
}

/// A whole run into `dir`, held by this process throughout ([`RunLock`]): the lock manifest
/// first (so a killed run can resume), training (from `resume` if given), the test batch on the
/// task reached, and every output file.
///
/// # Errors
/// As [`RunLock::acquire`] (another process is writing `dir`), [`crate::train_from`],
/// [`crate::evaluate`] and [`write_run`].
pub fn train_into(
    dir: &Path,
    exp: &Experiment,
    resume: Option<crate::TrainingState>,
    observer: &mut dyn crate::TrainingObserver,
) -> Result<(TrainingOutcome, Evaluation)> {
    let _held = RunLock::acquire(dir)?;
    write_lock(dir, exp)?;
    let outcome = crate::train_from(exp, resume, observer)?;
    let test = crate::evaluate(
        exp,
        exp.stage_task(outcome.stage),
        &outcome.params,
        exp.training.test_batch_size,
        0,
        outcome.carry.as_ref(),
    )?;
    write_run(dir, exp, &outcome, &test)?;
    Ok((outcome, test))
}

/// Empties the run directory `dir` for a new run (`train --force`): every file of the old run
/// goes, so nothing stale (a curriculum table, periodic weights, analyses) remains. Refuses a
/// directory that is not a run directory (no `manifest.lock.toml`) or that another process holds.
///
/// # Errors
/// [`Error::Invalid`] naming `dir` as described; [`Error::Write`] if a file cannot be removed.
pub fn clear_run(dir: &Path) -> Result<()> {
    if !dir.join("manifest.lock.toml").is_file() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "is not a run directory (it has no manifest.lock.toml), so --force will not delete it: choose another --out",
        ));
    }
    let held = RunLock::acquire(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| Error::Write { path: dir.to_path_buf(), source })?.path();
        if path.file_name().is_some_and(|n| n == crate::run_lock::LOCK_FILE) {
            continue;
        }
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.map_err(|source| Error::Write { path, source })?;
    }
    drop(held);
    Ok(())
}

/// Whether `dir` exists and holds anything (a new run refuses to write into it unasked).
pub fn is_occupied(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// Where a run keeps its latest checkpoint.
pub fn checkpoint_path(dir: &Path) -> std::path::PathBuf {
    dir.join("checkpoint").join("checkpoint.npz")
}

/// Loss (log scale) and score curves against training trials, with the curriculum's or
/// `performance_cutoff`'s checks and the stage changes. The score is the run's metric:
/// `accuracy.svg`, or `<metric>.svg` for another such as `rmse` (trajectory tasks have no
/// meaningful accuracy), on the update batches and on the checks.
fn write_plots(dir: &Path, exp: &Experiment, outcome: &TrainingOutcome) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let rows = &outcome.metrics;
    let series = |name: &str, f: &dyn Fn(&crate::trainer::MetricsRow) -> f64| {
        Series::line(name, rows.iter().map(|r| (r.trials as f64, f(r))).collect())
    };
    // A stage ends at the check after which the next check (or the end) is in a later stage.
    let history = &outcome.metric_history;
    let changes: Vec<f64> = history
        .iter()
        .enumerate()
        .filter(|(i, m)| history.get(i + 1).map_or(outcome.stage, |n| n.stage) > m.stage)
        .map(|(_, m)| m.trials as f64)
        .collect();
    // Both plots draw the stage changes as dashed lines, and both titles say so.
    let titled = |title: &str| {
        if changes.is_empty() { title.to_string() } else { format!("{title} (dashed: curriculum stage changes)") }
    };
    let with_regularization = rows.iter().any(|r| r.regularization != 0.0);
    let mut losses = vec![series("loss", &|r| r.loss)];
    if with_regularization {
        losses.insert(0, series("loss + regularization", &|r| r.loss + r.regularization));
    }
    let loss = Chart {
        series: losses,
        markers: changes.clone(),
        log_y: true,
        legend: crate::plot::Legend::Best,
        ..Chart::new(titled("Training loss"), "training trials", "loss on the update's batch (log scale)")
    };
    write_atomically(&dir.join("loss.svg"), loss.to_svg().as_bytes())?;

    let metric = exp.metric_name();
    let shown = if metric == "rmse" { "RMSE".to_string() } else { metric.clone() };
    let checks = if exp.curriculum.is_some() { "curriculum checks" } else { "validation checks" };
    let mut scores = vec![series(&format!("{shown} on the update's batch"), &|r| r.score(&metric))];
    if !history.is_empty() {
        let name = format!("{shown} on {checks}");
        scores.push(Series::line(name, history.iter().map(|m| (m.trials as f64, m.value)).collect()));
    }
    let mut label = shown.clone();
    if let Some(first) = label.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let title = titled(&label);
    let chart = Chart {
        series: scores,
        markers: changes,
        legend: crate::plot::Legend::Best,
        ..Chart::new(title, "training trials", label)
    };
    write_atomically(&dir.join(format!("{metric}.svg")), chart.to_svg().as_bytes())
}

/// Creates `dir` and writes every file of the run into it.
///
/// # Errors
/// [`Error::Write`] naming the file that could not be written.
pub fn write_run(dir: &Path, exp: &Experiment, outcome: &TrainingOutcome, test: &Evaluation) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;

    let lock = exp.lock_manifest_in(dir).to_toml()?;
    let header =
        "# Resolved by psychrnn: every default is written out. `psychrnn train` on this file replays the run.\n";
    write_atomically(&dir.join("manifest.lock.toml"), format!("{header}{lock}").as_bytes())?;

    write_npz(&dir.join("weights.npz"), &exp.model.export(&outcome.params)?)?;

    // The fifth column is the run's metric on the update's batch (accuracy, or e.g. rmse).
    let metric = exp.metric_name();
    let mut csv = format!("iteration,trials,loss,regularization,{metric},stage,wall_seconds\n");
    for r in &outcome.metrics {
        let score = r.score(&metric);
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{:.3}",
            r.iteration, r.trials, r.loss, r.regularization, score, r.stage, r.wall_seconds
        );
    }
    write_atomically(&dir.join("metrics.csv"), csv.as_bytes())?;
    // The metric checks: the curriculum's, or else those of `performance_cutoff`.
    if exp.curriculum.is_some() || !outcome.metric_history.is_empty() {
        let mut csv = String::from("iteration,trials,stage,value\n");
        for r in &outcome.metric_history {
            let _ = writeln!(csv, "{},{},{},{}", r.iteration, r.trials, r.stage, r.value);
        }
        let name = if exp.curriculum.is_some() { "curriculum.csv" } else { "validation.csv" };
        write_atomically(&dir.join(name), csv.as_bytes())?;
    }
    write_plots(&dir.join("plots"), exp, outcome)?;

    let t = &test.trajectory;
    let (steps, kept, units) = t.states.dim();
    let states_trials = crate::trainer::states_kept(steps, kept, units, exp.training.test_states_mb);
    let states = t.states.slice(ndarray::s![.., ..states_trials, ..]);
    write_npz(
        &dir.join("test_trials.npz"),
        &[
            NpyArray::from_time_major("x", &test.batch.inputs),
            NpyArray::from_time_major("y", &test.batch.targets),
            NpyArray::from_time_major("mask", &test.batch.mask),
            NpyArray::from_time_major("outputs", &t.outputs),
            NpyArray::from_time_major("states", &states),
        ],
    )?;
    let params = serde_json::to_string_pretty(&test.batch.trial_params)
        .map_err(|e| Error::invalid("test_trials.json", e.to_string()))?;
    write_atomically(&dir.join("test_trials.json"), params.as_bytes())?;

    let summary = RunSummary {
        name: exp.name.clone(),
        seed: exp.seed,
        stop_message: outcome.stop.to_string(),
        stop_reason: outcome.stop.clone(),
        iterations: outcome.iterations,
        trials: outcome.trials,
        final_accuracy: test.accuracy,
        metric: exp.metric_name(),
        final_metric: test.metric,
        final_loss: test.loss,
        test_trials: test.batch.n_trials(),
        test_states_trials: states_trials,
        final_stage: outcome.stage,
        curriculum_stages: exp.stages.len(),
        init_seconds: outcome.init_seconds,
        training_seconds: outcome.training_seconds,
        psychrnn_version: psychrnn_core::VERSION.to_string(),
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::invalid("summary.json", e.to_string()))?;
    write_atomically(&dir.join(RunSummary::FILE), json.as_bytes())
}
