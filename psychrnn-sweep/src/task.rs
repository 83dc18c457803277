//! One run of a sweep, as every executor starts it (`psychrnn sweep task <sweep> <index>`): the
//! same steps on a laptop and in a Slurm job, so their weights are the same bytes.
//!
//! A run whose files are complete is left alone; one with a checkpoint resumes; one that died
//! before its first checkpoint starts again in an emptied directory; otherwise it trains. The
//! attempt is recorded when it starts and when it ends (`state/<run>.json`).

use std::path::PathBuf;

use psychrnn_core::Result;
use psychrnn_train::run_dir::{checkpoint_path, clear_run, is_occupied};

use crate::dir::{Attempt, AttemptOutcome, SweepDir, host_name, unix_now};
use crate::plan::PlannedRun;

/// What a run's next attempt does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Nothing: the run is complete.
    AlreadyDone,
    /// Train the manifest with the overrides into the run directory.
    Train {
        /// The base manifest (checked against the plan's hash).
        manifest: PathBuf,
        /// The run's overrides, then `training.threads`.
        overrides: Vec<String>,
        /// The run directory.
        dir: PathBuf,
    },
    /// Resume the run directory from its checkpoint.
    Resume {
        /// The run directory.
        dir: PathBuf,
    },
}

/// What `run`'s next attempt does, with `threads` training threads for a new run (a resumed run
/// keeps its lock's). A run directory left by an attempt that died before its first checkpoint
/// is emptied first.
///
/// # Errors
/// A base manifest that changed since planning ([`SweepDir::check_manifest`]), or a directory
/// that cannot be emptied.
pub fn next_action(sweep: &SweepDir, run: &PlannedRun, threads: usize) -> Result<Action> {
    let dir = sweep.run_dir(run);
    if crate::status::finished_summary(&dir).is_some() {
        return Ok(Action::AlreadyDone);
    }
    let manifest = sweep.check_manifest(run)?.to_path_buf();
    if checkpoint_path(&dir).is_file() {
        return Ok(Action::Resume { dir });
    }
    if is_occupied(&dir) {
        clear_run(&dir)?;
    }
    let mut overrides = run.overrides.clone();
    overrides.push(format!("training.threads={}", threads.max(1)));
    Ok(Action::Train { manifest, overrides, dir })
}

/// The Slurm job of this process (`<array job>_<task>`, or the job id), from its environment.
pub fn slurm_job() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(job), Some(task)) => Some(format!("{job}_{task}")),
        _ => var("SLURM_JOB_ID"),
    }
}

/// Records the start of an attempt at `run` by this process.
///
/// # Errors
/// [`psychrnn_core::Error::Write`] naming the record.
pub fn begin(sweep: &SweepDir, run: &PlannedRun) -> Result<Attempt> {
    let number = sweep.read_attempt(run).map_or(1, |a| a.number + 1);
    let attempt = Attempt {
        host: host_name(),
        pid: std::process::id(),
        slurm_job: slurm_job(),
        number,
        started_unix: unix_now(),
        ended_unix: None,
        outcome: None,
        message: String::new(),
    };
    sweep.write_attempt(run, &attempt)?;
    Ok(attempt)
}

/// Records how the attempt ended.
///
/// # Errors
/// [`psychrnn_core::Error::Write`] naming the record.
pub fn end(
    sweep: &SweepDir,
    run: &PlannedRun,
    mut attempt: Attempt,
    outcome: AttemptOutcome,
    message: String,
) -> Result<()> {
    attempt.ended_unix = Some(unix_now());
    attempt.outcome = Some(outcome);
    attempt.message = message;
    sweep.write_attempt(run, &attempt)
}
