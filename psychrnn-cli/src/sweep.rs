//! `psychrnn sweep plan | run | status | collect | task`: many runs of base manifests over seeds
//! and parameters (`psychrnn-sweep`), on this machine's cores or as Slurm job arrays.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use psychrnn_sweep::collect::{self, MEASURES, Row, Selector};
use psychrnn_sweep::dir::AttemptOutcome;
use psychrnn_sweep::local::{Finished, LocalOptions, SweepObserver, Worker, run_local};
use psychrnn_sweep::slurm::{self, SlurmOptions};
use psychrnn_sweep::status::{RunState, counts, states};
use psychrnn_sweep::task::{Action, begin, end, next_action};
use psychrnn_sweep::{Plan, PlannedRun, SweepDir};
use psychrnn_train::StopReason;
use psychrnn_train::run_dir::RunSummary;

use crate::{CliError, CliResult};

/// `psychrnn sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SweepCommand,
}

/// Where a sweep's runs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// This machine's cores (`--jobs` runs side by side).
    Local,
    /// A Slurm job array (`sbatch`), one task per run.
    Slurm,
}

/// Which sweep a command reads: a sweep file (its directory from `--out` or `runs/<name>`) or
/// a sweep directory.
#[derive(Args, Clone)]
pub struct Target {
    /// The sweep file (TOML), or a sweep directory (holding sweep.json).
    pub sweep: PathBuf,
    /// The sweep directory (default: runs/<name of the sweep>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `psychrnn sweep run`'s options.
#[derive(Args)]
pub struct RunArgs {
    /// The sweep.
    #[command(flatten)]
    pub target: Target,
    /// Where the runs run.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Local: runs side by side (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Local: training threads of each run (default: 1; one single-threaded run per core is
    /// the fastest for small networks, see BENCHMARKS.md).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Slurm: the partition (default: the cluster's default).
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: time limit of each run (`--time` of sbatch: `30`, `2:00:00`, `1-0`).
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm: memory of each run (`--mem` of sbatch: `2G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm: CPUs of each run, also its training threads.
    #[arg(long, default_value_t = 1)]
    pub cpus_per_task: usize,
    /// Slurm: at most this many runs at once (`--array=...%K`).
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Slurm: seconds before the time limit at which a run is told to checkpoint and stop.
    #[arg(long, default_value_t = 120)]
    pub signal_seconds: u32,
    /// Slurm: another `#SBATCH` argument, verbatim (`--sbatch-arg=--account=lab`). Repeatable.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Slurm: wait until no run is queued or running, then show the status.
    #[arg(long)]
    pub wait: bool,
    /// Slurm, with `--wait`: seconds between two looks at the queue (`squeue`); a busy
    /// cluster's controller is asked less often with a longer interval.
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    pub poll_seconds: f64,
    /// Print nothing but errors and failed runs.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The `sweep` subcommands.
#[derive(Subcommand)]
pub enum SweepCommand {
    /// Print a sweep file's runs (variant, swept values, seed, overrides) after checking every
    /// one; writes nothing.
    Plan {
        /// The sweep.
        #[command(flatten)]
        target: Target,
    },
    /// Start the runs that are not done (not started, failed or interrupted), locally or on Slurm.
    Run(RunArgs),
    /// Show each run's state: done, running, pending, interrupted, failed, not started.
    Status {
        /// The sweep.
        #[command(flatten)]
        target: Target,
        /// List every run, not only the counts and the runs that need attention.
        #[arg(long)]
        all: bool,
    },
    /// Write sweep.csv (one row per run), sweep_summary.csv/.json (each point over its seeds)
    /// and plots of a measure; `--compare A B` tests two groups of runs.
    Collect {
        /// The sweep.
        #[command(flatten)]
        target: Target,
        /// The measure: final_metric, final_accuracy, final_loss, trials, updates, training_seconds, final_stage.
        #[arg(long, default_value = "final_metric")]
        measure: String,
        /// Two groups to compare with a Mann-Whitney U test: each a variant, `key.path=value`,
        /// or both joined by commas (`curriculum baseline`, `model.N_rec=50 model.N_rec=100`).
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        compare: Option<Vec<String>>,
    },
    /// Run one run of a planned sweep (what the executors start; safe to call by hand).
    Task {
        /// The sweep directory.
        sweep_dir: PathBuf,
        /// The run's index in the plan.
        index: usize,
        /// Training threads of a new run.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Cancel a sweep's queued and running Slurm jobs (`scancel`).
    Cancel {
        /// The sweep.
        #[command(flatten)]
        target: Target,
    },
}

/// Runs a `sweep` subcommand.
///
/// # Errors
/// Whatever the subcommand meets: see each.
pub fn run(args: &SweepArgs) -> CliResult<()> {
    match &args.command {
        SweepCommand::Plan { target } => plan(target),
        SweepCommand::Run(a) => run_sweep(a),
        SweepCommand::Status { target, all } => status(target, *all),
        SweepCommand::Collect { target, measure, compare } => collect_sweep(target, measure, compare.as_deref()),
        SweepCommand::Task { sweep_dir, index, threads } => task(sweep_dir, *index, *threads),
        SweepCommand::Cancel { target } => {
            let sweep = open(target)?;
            slurm::cancel(&sweep)?;
            say!("cancelled the Slurm jobs of {}", sweep.root.display());
            Ok(())
        }
    }
}

/// The plan of a sweep file with every run checked (its experiment built).
fn checked_plan(file: &Path) -> CliResult<Plan> {
    let plan = Plan::from_file(file)?;
    plan.validate(&mut |manifest, overrides| crate::load_experiment(manifest, overrides).map(|_| ()))?;
    Ok(plan)
}

/// The default sweep directory of `plan`: `--out`, else runs/<name>.
fn sweep_root(target: &Target, plan: &Plan) -> PathBuf {
    target.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&plan.name))
}

/// An existing sweep: the directory given, or that of the sweep file (which must still be the
/// file that planned it).
fn open(target: &Target) -> CliResult<SweepDir> {
    if target.sweep.is_dir() {
        return Ok(SweepDir::open(&target.sweep)?);
    }
    let plan = Plan::from_file(&target.sweep)?;
    let root = sweep_root(target, &plan);
    if !root.join(SweepDir::PLAN_FILE).is_file() {
        return Err(format!(
            "{} has not been run yet (no {}): start it with `psychrnn sweep run {}`",
            root.display(),
            SweepDir::PLAN_FILE,
            target.sweep.display()
        )
        .into());
    }
    // Reopening checks that the directory holds this sweep file's sweep.
    Ok(SweepDir::create(&root, &plan)?)
}

/// `sweep plan`.
fn plan(target: &Target) -> CliResult<()> {
    let plan = checked_plan(&target.sweep)?;
    let root = sweep_root(target, &plan);
    out!("sweep `{}`: {} runs into {}", plan.name, plan.runs.len(), root.display());
    for v in &plan.variants {
        out!("  variant {:<16} {}", v.name, v.manifest.display());
    }
    out!("{:>5}  {:<16} {:>6}  {:<8} overrides", "index", "variant", "point", "seed");
    for r in &plan.runs {
        let seed = r.seed.map_or_else(|| "(manifest)".to_string(), |s| s.to_string());
        out!("{:>5}  {:<16} {:>6}  {:<8} {}", r.index, r.variant, r.point, seed, r.overrides.join(" "));
    }
    out!("every run checked: its manifest with its overrides builds");
    Ok(())
}

/// `sweep run`.
fn run_sweep(a: &RunArgs) -> CliResult<()> {
    let plan = checked_plan(&a.target.sweep)?;
    if a.executor == Executor::Slurm {
        // Before anything is written: Slurm is there and the partition exists.
        slurm::check_cluster(a.partition.as_deref())?;
    }
    let root = sweep_root(&a.target, &plan);
    let sweep = SweepDir::create(&root, &plan)?;
    let states = states(&sweep, &slurm::queue(&sweep));
    let todo: Vec<usize> = states.iter().enumerate().filter(|(_, s)| s.wants_work()).map(|(i, _)| i).collect();
    if !a.quiet {
        say!("sweep `{}` in {}: {} runs ({})", plan.name, root.display(), plan.runs.len(), counts(&states, false));
    }
    if todo.is_empty() {
        if !a.quiet {
            say!("nothing to start: `psychrnn sweep status {}` shows each run", root.display());
        }
        return Ok(());
    }
    let worker = Worker::this_binary()?;
    match a.executor {
        Executor::Local => run_locally(&sweep, &todo, &worker, a),
        Executor::Slurm => {
            let options = SlurmOptions {
                partition: a.partition.clone(),
                time: a.time.clone(),
                mem: a.mem.clone(),
                cpus_per_task: a.cpus_per_task,
                max_parallel: a.max_parallel,
                signal_seconds: a.signal_seconds,
                sbatch_args: a.sbatch_args.clone(),
            };
            let subs = slurm::submit(&sweep, &todo, &worker, &options)?;
            for s in &subs {
                say!("submitted {} runs as Slurm job array {} ({})", s.runs.len(), s.job_id, s.script.display());
            }
            if a.wait {
                wait_for_queue(&sweep, a.quiet, Duration::from_secs_f64(a.poll_seconds));
                return report(&sweep, false);
            }
            say!("follow it with `psychrnn sweep status {}`", root.display());
            Ok(())
        }
    }
}

/// `--poll-seconds`: a positive, finite number of seconds.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!("`{text}`: expected seconds between 0 and 86400, e.g. 10 or 0.5")),
    }
}

/// Polls the queue every `every` until no run of the sweep is pending or running.
fn wait_for_queue(sweep: &SweepDir, quiet: bool, every: Duration) {
    let mut last = String::new();
    loop {
        let states = states(sweep, &slurm::queue(sweep));
        let busy = states.iter().any(|s| matches!(s, RunState::Pending { .. } | RunState::Running { .. }));
        let line = counts(&states, false);
        if !quiet && line != last {
            say!("  {line}");
            last = line;
        }
        if !busy {
            return;
        }
        std::thread::sleep(every);
    }
}

/// The progress of a local sweep: a bar on a terminal, a line per finished run otherwise.
struct SweepProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    total: usize,
    finished: usize,
    failed: Vec<(PlannedRun, Finished)>,
    running: Vec<String>,
}

impl SweepObserver for SweepProgress {
    fn started(&mut self, run: &PlannedRun) {
        self.running.push(run.name.clone());
        if let Some(bar) = &self.bar {
            bar.set_message(format!("running {}", self.running.join(", ")));
        }
    }

    fn finished(&mut self, run: &PlannedRun, result: &Finished) {
        self.running.retain(|n| n != &run.name);
        self.finished += 1;
        let how = if result.success { "done".to_string() } else { format!("FAILED ({})", result.how) };
        let line = format!("[{}/{}] {} {how} in {:.1} s", self.finished, self.total, run.name, result.seconds);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if !result.success {
                bar.println(line);
            }
        } else if !self.quiet || !result.success {
            say!("{line}");
        }
        if !result.success {
            self.failed.push((run.clone(), result.clone()));
        }
    }
}

/// Stops the sweep from starting new runs on Ctrl-C (the running ones stop at a checkpoint).
fn stop_flag() -> Arc<AtomicBool> {
    if let Some(flag) = crate::host_interrupt() {
        return flag;
    }
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    if let Err(e) = ctrlc::set_handler(move || handler_flag.store(true, Ordering::SeqCst)) {
        say!("warning: Ctrl-C will not stop the sweep cleanly: {e}");
    }
    flag
}

/// The local executor with one progress display for the whole sweep.
fn run_locally(sweep: &SweepDir, todo: &[usize], worker: &Worker, a: &RunArgs) -> CliResult<()> {
    let options =
        LocalOptions { jobs: a.jobs.unwrap_or(LocalOptions::default().jobs).max(1), threads: a.threads.max(1) };
    if !a.quiet {
        say!("running {} runs, {} at a time, {} thread(s) each", todo.len(), options.jobs, options.threads);
    }
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs, eta {eta} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ProgressBar::new(todo.len() as u64).with_style(style)
    });
    let mut progress =
        SweepProgress { bar, quiet: a.quiet, total: todo.len(), finished: 0, failed: Vec::new(), running: Vec::new() };
    let stop = stop_flag();
    let start = Instant::now();
    run_local(sweep, todo, worker, options, &stop, &mut progress)?;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    if !a.quiet {
        say!("{} runs in {:.1} s", progress.finished, start.elapsed().as_secs_f64());
    }
    for (run, result) in &progress.failed {
        say!("run {} failed ({}); log {}:", run.name, result.how, sweep.log_path(run).display());
        for line in sweep.log_tail(run, 6).lines() {
            say!("  | {line}");
        }
    }
    if stop.load(Ordering::SeqCst) {
        return Err(CliError::Interrupted(format!(
            "sweep stopped by Ctrl-C; `psychrnn sweep run {}` continues it",
            a.target.sweep.display()
        ))
        .into());
    }
    if !progress.failed.is_empty() {
        return Err(CliError::Failed(format!(
            "{} of {} runs failed; `psychrnn sweep run` again retries them (interrupted ones resume from their checkpoints)",
            progress.failed.len(),
            todo.len()
        ))
        .into());
    }
    Ok(())
}

/// Prints the counts and the runs that need attention (every run with `all`); an error when
/// some failed.
fn report(sweep: &SweepDir, all: bool) -> CliResult<()> {
    let queue = slurm::queue(sweep);
    let states = states(sweep, &queue);
    out!("sweep `{}` ({} runs): {}", sweep.plan.name, states.len(), counts(&states, true));
    if !queue.answered {
        out!("(the Slurm queue did not answer: runs started under Slurm are shown as running)");
    }
    for (run, state) in sweep.plan.runs.iter().zip(&states) {
        let detail = match state {
            RunState::Done { stop, diverged } => {
                if !all && !diverged {
                    continue;
                }
                if *diverged { format!("diverged: {stop}") } else { stop.clone() }
            }
            RunState::Running { at } => format!("on {at}"),
            RunState::Pending { job } => format!("queued as slurm job {job}"),
            RunState::Interrupted { reason } => {
                format!("{reason}; resumes from its checkpoint on the next `sweep run`")
            }
            RunState::Failed { reason } => reason.clone(),
            RunState::NotStarted => {
                if !all {
                    continue;
                }
                String::new()
            }
        };
        out!("  {:<11} {:<40} {detail}", state.label(), run.name);
        if matches!(state, RunState::Failed { .. }) {
            for line in sweep.log_tail(run, 6).lines() {
                out!("              | {line}");
            }
        }
    }
    let failed = states.iter().filter(|s| matches!(s, RunState::Failed { .. })).count();
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} runs failed; `psychrnn sweep run` again retries them")).into());
    }
    Ok(())
}

/// `sweep status`.
fn status(target: &Target, all: bool) -> CliResult<()> {
    report(&open(target)?, all)
}

/// `sweep collect`.
fn collect_sweep(target: &Target, measure: &str, compare: Option<&[String]>) -> CliResult<()> {
    collect::check_measure(measure)?;
    let sweep = open(target)?;
    let selectors = compare.map(|c| -> CliResult<(Selector, Selector)> {
        match c {
            [x, y] => Ok((Selector::parse(x, &sweep)?, Selector::parse(y, &sweep)?)),
            _ => Err("--compare takes two groups".into()),
        }
    });
    let selectors = selectors.transpose()?;
    let rows: Vec<Row> = collect::rows(&sweep, &slurm::queue(&sweep));
    let done = rows.iter().filter(|r| r.summary.is_some()).count();
    for path in collect::write_all(&sweep, &rows, measure)? {
        say!("wrote {}", path.display());
    }
    out!(
        "{done} of {} runs done; {measure} ({}) over each point's seeds in sweep_summary.csv",
        rows.len(),
        MEASURES.iter().find(|(m, _)| *m == measure).map_or("", |(_, d)| *d)
    );
    if let Some((a, b)) = selectors {
        let comparison = collect::compare(&rows, &a, &b, measure)?;
        let json = serde_json::to_string_pretty(&comparison)?;
        psychrnn_core::npz::write_atomically(&sweep.root.join("compare.json"), json.as_bytes())?;
        out!("{comparison}");
        say!("wrote {}", sweep.root.join("compare.json").display());
    }
    Ok(())
}

/// `sweep task`: one attempt at one run, recorded.
fn task(dir: &Path, index: usize, threads: usize) -> CliResult<()> {
    let sweep = SweepDir::open(dir)?;
    let run = sweep.plan.run(index)?.clone();
    let action = match next_action(&sweep, &run, threads) {
        Ok(Action::AlreadyDone) => {
            say!("{} is done already", run.name);
            return Ok(());
        }
        Ok(action) => action,
        Err(e) => {
            let attempt = begin(&sweep, &run)?;
            end(&sweep, &run, attempt, AttemptOutcome::Failed, e.to_string())?;
            return Err(e.into());
        }
    };
    let attempt = begin(&sweep, &run)?;
    say!("run {} ({}), attempt {}", run.name, run.overrides.join(" "), attempt.number);
    let result = match &action {
        Action::Train { manifest, overrides, dir } => crate::load_experiment(manifest, overrides)
            .map_err(Into::into)
            .and_then(|exp| crate::run::run(exp, dir, None, false).map(|_| ())),
        Action::Resume { dir } => crate::run::resume(dir, false),
        Action::AlreadyDone => Ok(()),
    };
    let run_dir = sweep.run_dir(&run);
    match result {
        Ok(()) => {
            end(&sweep, &run, attempt, AttemptOutcome::Done, String::new())?;
            Ok(())
        }
        Err(e) => match e.downcast_ref::<CliError>() {
            Some(CliError::Interrupted(m)) => {
                end(&sweep, &run, attempt, AttemptOutcome::Interrupted, m.clone())?;
                Err(e)
            }
            // Divergence is the run's result (the same on every attempt), not a failure to run.
            Some(CliError::Failed(m))
                if RunSummary::read(&run_dir).is_ok_and(|s| matches!(s.stop_reason, StopReason::NonFinite { .. })) =>
            {
                say!("warning: {m}");
                end(&sweep, &run, attempt, AttemptOutcome::Diverged, m.clone())?;
                Ok(())
            }
            _ => {
                end(&sweep, &run, attempt, AttemptOutcome::Failed, e.to_string())?;
                Err(e)
            }
        },
    }
}
