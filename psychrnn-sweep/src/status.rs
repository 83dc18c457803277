//! Where each run of a sweep stands, read from its run directory, its last attempt and the
//! scheduler's queue: done, running, pending (queued), interrupted (resumes from its
//! checkpoint), failed, or not started. `sweep run` starts or submits exactly the runs that are
//! interrupted, failed or not started, so running it again is safe.

use std::collections::HashMap;

use psychrnn_train::StopReason;
use psychrnn_train::run_dir::{RunSummary, checkpoint_path};
use psychrnn_train::run_lock::is_running;
use serde::Serialize;

use crate::dir::{AttemptOutcome, SweepDir, host_name};
use crate::plan::PlannedRun;

/// What the scheduler says of a queued run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Queued {
    /// Waiting for resources.
    Pending,
    /// Started (its attempt record may not be written yet).
    Running,
}

/// The scheduler's view of a sweep: run index -> (job id, state). Empty without a scheduler.
#[derive(Clone, Debug, Default)]
pub struct QueueView {
    /// The queued runs.
    pub runs: HashMap<usize, (String, Queued)>,
    /// Whether the scheduler answered: when it did not, attempts under it are taken as running.
    pub answered: bool,
}

/// Where a run stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    /// Its files are complete (`diverged`: training stopped on a NaN; its result stands).
    Done {
        /// Why training stopped.
        stop: String,
        /// Whether it stopped on a non-finite value.
        diverged: bool,
    },
    /// Running now.
    Running {
        /// Where: `host pid`, or the Slurm job.
        at: String,
    },
    /// Queued by the scheduler.
    Pending {
        /// The job.
        job: String,
    },
    /// Stopped with a checkpoint; the next attempt resumes it.
    Interrupted {
        /// Why.
        reason: String,
    },
    /// Its last attempt failed.
    Failed {
        /// The error, or how the process ended.
        reason: String,
    },
    /// Never started.
    NotStarted,
}

impl RunState {
    /// Its name in tables: done, running, pending, interrupted, failed, not_started.
    pub fn label(&self) -> &'static str {
        match self {
            RunState::Done { .. } => "done",
            RunState::Running { .. } => "running",
            RunState::Pending { .. } => "pending",
            RunState::Interrupted { .. } => "interrupted",
            RunState::Failed { .. } => "failed",
            RunState::NotStarted => "not_started",
        }
    }

    /// Whether `sweep run` should start (or submit) the run.
    pub fn wants_work(&self) -> bool {
        matches!(self, RunState::Interrupted { .. } | RunState::Failed { .. } | RunState::NotStarted)
    }
}

/// The summary of a run directory whose run is complete: `summary.json` is written last, and
/// an interrupted run writes one too (its stop reason says so), which does not count.
pub fn finished_summary(dir: &std::path::Path) -> Option<RunSummary> {
    RunSummary::read(dir).ok().filter(|s| !matches!(s.stop_reason, StopReason::Interrupted { .. }))
}

/// Where `run` stands.
pub fn run_state(sweep: &SweepDir, run: &PlannedRun, queue: &QueueView) -> RunState {
    let dir = sweep.run_dir(run);
    if let Some(summary) = finished_summary(&dir) {
        let diverged = matches!(summary.stop_reason, StopReason::NonFinite { .. });
        return RunState::Done { stop: summary.stop_message, diverged };
    }
    match queue.runs.get(&run.index) {
        Some((job, Queued::Pending)) => return RunState::Pending { job: job.clone() },
        Some((job, Queued::Running)) => return RunState::Running { at: format!("slurm job {job}") },
        None => {}
    }
    let checkpoint = checkpoint_path(&dir).is_file();
    let Some(attempt) = sweep.read_attempt(run) else {
        return if checkpoint {
            RunState::Interrupted { reason: "a checkpoint and no record of the attempt".into() }
        } else {
            RunState::NotStarted
        };
    };
    match attempt.outcome {
        Some(AttemptOutcome::Interrupted) if checkpoint => RunState::Interrupted { reason: attempt.message },
        Some(AttemptOutcome::Done | AttemptOutcome::Diverged) => {
            RunState::Failed { reason: "recorded as done, but its summary.json is missing".into() }
        }
        Some(_) => RunState::Failed { reason: attempt.message },
        None => {
            // Started and never ended: alive, or killed (out of memory, the time limit, a crash).
            let alive = match &attempt.slurm_job {
                Some(job) if !queue.answered => {
                    return RunState::Running { at: format!("slurm job {job} (queue not answering)") };
                }
                Some(_) => false,
                None => attempt.host == host_name() && is_running(attempt.pid) && attempt.pid != std::process::id(),
            };
            if alive {
                RunState::Running { at: format!("{} pid {}", attempt.host, attempt.pid) }
            } else {
                let job = attempt.slurm_job.map(|j| format!(" (slurm job {j})")).unwrap_or_default();
                let resumes = if checkpoint { "; it resumes from its checkpoint" } else { "" };
                RunState::Failed {
                    reason: format!(
                        "attempt {} on {} pid {}{job} ended without a word (killed?){resumes}",
                        attempt.number, attempt.host, attempt.pid
                    ),
                }
            }
        }
    }
}

/// Where every run of the sweep stands, in plan order.
pub fn states(sweep: &SweepDir, queue: &QueueView) -> Vec<RunState> {
    sweep.plan.runs.iter().map(|r| run_state(sweep, r, queue)).collect()
}

/// The counts of [`tally`] for people: `3 done, 1 failed` (states with no run left out unless
/// `all`).
pub fn counts(states: &[RunState], all: bool) -> String {
    let parts: Vec<String> =
        tally(states).into_iter().filter(|(_, n)| all || *n > 0).map(|(l, n)| format!("{n} {l}")).collect();
    parts.join(", ")
}

/// Counts of runs by state label, in the order done, running, pending, interrupted, failed,
/// not_started.
pub fn tally(states: &[RunState]) -> Vec<(&'static str, usize)> {
    ["done", "running", "pending", "interrupted", "failed", "not_started"]
        .into_iter()
        .map(|l| (l, states.iter().filter(|s| s.label() == l).count()))
        .collect()
}
