//! The local executor: a sweep's runs on this machine's cores, `jobs` at a time, each a child
//! process (`psychrnn sweep task`) writing its own log, so a crash ends one run and not the
//! sweep. Several single-threaded runs side by side beat two-threaded runs one after another
//! for the small networks of this field (BENCHMARKS.md), hence the default: as many jobs as
//! cores, one thread each.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use psychrnn_core::{Error, Result};

use crate::dir::{SweepDir, host_name};
use crate::plan::PlannedRun;

/// The command that runs one run: `program args... <sweep dir> <index> --threads <t>`.
#[derive(Clone, Debug)]
pub struct Worker {
    /// The program (the `psychrnn` binary).
    pub program: PathBuf,
    /// Its arguments before the sweep directory (`["sweep", "task"]`).
    pub args: Vec<OsString>,
}

/// The worker a host process set ([`Worker::set_default`]).
static DEFAULT_WORKER: std::sync::OnceLock<Worker> = std::sync::OnceLock::new();

impl Worker {
    /// Makes `worker` the one [`Worker::this_binary`] returns, for a process that is not the
    /// `psychrnn` binary (the Python binding: `python -m psychrnn_rs sweep task`). Returns false if
    /// one was already set (the first one stays).
    pub fn set_default(worker: Worker) -> bool {
        DEFAULT_WORKER.set(worker).is_ok()
    }

    /// The `psychrnn` binary running this process (`current_exe`), with `sweep task`, or the
    /// worker a host set with [`Worker::set_default`].
    ///
    /// # Errors
    /// [`Error::Invalid`] if the running binary's path cannot be found.
    pub fn this_binary() -> Result<Worker> {
        if let Some(worker) = DEFAULT_WORKER.get() {
            return Ok(worker.clone());
        }
        let program = std::env::current_exe()
            .map_err(|e| Error::invalid("executor", format!("cannot find the running psychrnn binary: {e}")))?;
        Ok(Worker { program, args: vec!["sweep".into(), "task".into()] })
    }

    /// The command for `run` of `sweep`.
    pub fn command(&self, sweep: &SweepDir, run: &PlannedRun, threads: usize) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).arg(&sweep.root).arg(run.index.to_string()).arg("--threads").arg(threads.to_string());
        c
    }
}

/// How the local executor runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalOptions {
    /// Runs side by side.
    pub jobs: usize,
    /// Training threads of each run.
    pub threads: usize,
}

impl Default for LocalOptions {
    /// One job per core, one thread each.
    fn default() -> Self {
        LocalOptions { jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get), threads: 1 }
    }
}

/// How one run's process ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// Exit 0: the run is complete (or was already).
    pub success: bool,
    /// Stopped by an interrupt after writing a checkpoint (exit 130).
    pub interrupted: bool,
    /// How it ended, for people (`exit 1`, `killed by signal 9`).
    pub how: String,
    /// Its wall-clock time, s.
    pub seconds: f64,
}

/// Follows a local sweep (the CLI draws one progress bar from it).
pub trait SweepObserver {
    /// `run` started.
    fn started(&mut self, run: &PlannedRun);
    /// `run` ended.
    fn finished(&mut self, run: &PlannedRun, result: &Finished);
}

/// Runs the runs at `todo` (plan indices) of `sweep`, `options.jobs` at a time, until all have
/// run or `stop` is set (then no new run starts; the running ones are left to finish, as a
/// Ctrl-C reaches them too and they stop at a checkpoint). Returns each run's result in `todo`'s
/// order (`None`: not started because of `stop`).
///
/// # Errors
/// [`Error::Write`] if a log cannot be opened; a run's own failure is its [`Finished`], not an
/// error.
pub fn run_local(
    sweep: &SweepDir,
    todo: &[usize],
    worker: &Worker,
    options: LocalOptions,
    stop: &AtomicBool,
    observer: &mut dyn SweepObserver,
) -> Result<Vec<Option<Finished>>> {
    let runs: Vec<&PlannedRun> = todo.iter().map(|&i| sweep.plan.run(i)).collect::<Result<_>>()?;
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Finished>> = vec![None; runs.len()];
    let (tx, rx) = mpsc::channel::<(usize, Option<Result<Finished>>)>();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, runs.len().max(1)) {
            let tx = tx.clone();
            let (next, runs) = (&next, &runs);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(run) = runs.get(k) else { break };
                    let _ = tx.send((k, None));
                    let _ = tx.send((k, Some(run_one(sweep, run, worker, options.threads))));
                }
            });
        }
        drop(tx);
        let mut error = None;
        for (k, message) in rx {
            match message {
                None => observer.started(runs[k]),
                Some(Ok(f)) => {
                    observer.finished(runs[k], &f);
                    results[k] = Some(f);
                }
                Some(Err(e)) => {
                    stop.store(true, Ordering::SeqCst);
                    error.get_or_insert(e);
                }
            }
        }
        error.map_or(Ok(()), Err)
    })?;
    Ok(results)
}

/// One run's process, its output appended to the run's log.
fn run_one(sweep: &SweepDir, run: &PlannedRun, worker: &Worker, threads: usize) -> Result<Finished> {
    let path = sweep.log_path(run);
    let write_err = |source| Error::Write { path: path.clone(), source };
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(write_err)?;
    let _ =
        writeln!(log, "== {} on {}: local executor, {threads} thread(s)", crate::dir::unix_now() as u64, host_name());
    let mut command = worker.command(sweep, run, threads);
    let stderr = log.try_clone().map_err(write_err)?;
    command.stdin(Stdio::null()).stdout(log).stderr(stderr);
    let start = Instant::now();
    let status = command
        .status()
        .map_err(|e| Error::invalid("executor", format!("cannot start {}: {e}", worker.program.display())))?;
    let how = match status.code() {
        Some(c) => format!("exit {c}"),
        None => {
            use std::os::unix::process::ExitStatusExt as _;
            status.signal().map_or_else(|| "ended".into(), |s| format!("killed by signal {s}"))
        }
    };
    Ok(Finished {
        success: status.success(),
        interrupted: status.code() == Some(130),
        how,
        seconds: start.elapsed().as_secs_f64(),
    })
}
