//! The Slurm executor: a sweep's runs as job arrays. Each submission writes a script and the
//! list of its runs into `<sweep>/slurm/` (array task `i` runs the `i`-th line, so an array
//! never exceeds the cluster's `MaxArraySize` whatever the run indices) and appends the job id
//! to `submissions.jsonl`; the queue (`squeue`) and the runs' own files then tell where each run
//! stands. Each task is `psychrnn sweep task`, exactly as the local executor runs it; the
//! script asks Slurm for SIGINT before the time limit (`--signal=B:INT@<s>`), on which the run
//! writes a checkpoint and stops, and the next `sweep run` resubmits it to resume.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use psychrnn_core::npz::write_atomically;
use psychrnn_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::dir::{SweepDir, unix_now};
use crate::local::Worker;
use crate::status::{QueueView, Queued};

/// What each array task asks of Slurm.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `--partition` (default: the cluster's default partition).
    pub partition: Option<String>,
    /// `--time` per run (`HH:MM:SS`, `MM`, `D-HH`...; default: the partition's).
    pub time: Option<String>,
    /// `--mem` per run (`2G`; default: the cluster's).
    pub mem: Option<String>,
    /// `--cpus-per-task`, also each run's training threads (default 1).
    pub cpus_per_task: usize,
    /// At most this many runs at once (`--array=...%K`).
    pub max_parallel: Option<usize>,
    /// Seconds before the time limit at which Slurm sends SIGINT (the run checkpoints and stops).
    pub signal_seconds: u32,
    /// More `#SBATCH` arguments, verbatim (`--account=lab`, `--qos=short`).
    pub sbatch_args: Vec<String>,
}

/// One submitted job array (a line of `submissions.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
    /// The script.
    pub script: PathBuf,
    /// Plan indices of the runs: array task `i` runs `runs[i]`.
    pub runs: Vec<usize>,
    /// When it was submitted (seconds since the Unix epoch).
    pub submitted_unix: f64,
}

/// Runs `program args`, returning stdout; a program missing from PATH is named as such.
fn call(program: &str, args: &[&str]) -> Result<std::process::Output> {
    Command::new(program).args(args).output().map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{program}` is not on PATH: --executor slurm needs Slurm's commands (sbatch, squeue, scontrol); run on a cluster's login node (`module load slurm` on some), or use the local executor"
            )
        } else {
            format!("cannot run `{program}`: {e}")
        };
        Error::invalid("--executor slurm", why)
    })
}

/// Checks that Slurm answers here and that `partition` (if given) exists.
///
/// # Errors
/// [`Error::Invalid`] naming what is missing: `sbatch` not on PATH, a controller that does not
/// answer, an unknown partition (with the partitions there are).
pub fn check_cluster(partition: Option<&str>) -> Result<()> {
    call("sbatch", &["--version"])?;
    let Some(p) = partition else { return Ok(()) };
    let out = call("scontrol", &["show", "partition", p])?;
    if out.status.success() {
        return Ok(());
    }
    let known = call("sinfo", &["-h", "-o", "%R"]).ok().filter(|o| o.status.success());
    let known = known.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join(", "));
    Err(Error::invalid(
        "--partition",
        format!(
            "Slurm has no partition `{p}` ({}); partitions: {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            known.unwrap_or_else(|| "unknown (sinfo failed)".into())
        ),
    ))
}

/// The cluster's `MaxArraySize` (array task ids stay below it), 1001 when it cannot be read.
pub fn max_array_size() -> usize {
    let Ok(out) = call("scontrol", &["show", "config"]) else { return 1001 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("MaxArraySize").and_then(|v| v.trim().trim_start_matches('=').trim().parse().ok()))
        .unwrap_or(1001)
}

/// Shell-quotes `s` in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job-array script for `runs` (plan indices): a header of `#SBATCH` lines, then the run
/// of line `SLURM_ARRAY_TASK_ID + 1` of `list`, its output appended to the run's log.
pub fn script(sweep: &SweepDir, worker: &Worker, options: &SlurmOptions, list: &Path, n_tasks: usize) -> String {
    let root = sweep.root.display().to_string();
    let mut s = String::from("#!/bin/bash\n");
    let mut sbatch = |line: String| s.push_str(&format!("#SBATCH {line}\n"));
    sbatch(format!("--job-name={}", job_name(sweep)));
    let throttle = options.max_parallel.map(|k| format!("%{k}")).unwrap_or_default();
    sbatch(format!("--array=0-{}{throttle}", n_tasks.saturating_sub(1)));
    sbatch(format!("--output={root}/logs/slurm-%A_%a.out"));
    sbatch("--open-mode=append".into());
    sbatch(format!("--cpus-per-task={}", options.cpus_per_task.max(1)));
    sbatch(format!("--signal=B:INT@{}", options.signal_seconds));
    if let Some(p) = &options.partition {
        sbatch(format!("--partition={p}"));
    }
    if let Some(t) = &options.time {
        sbatch(format!("--time={t}"));
    }
    if let Some(m) = &options.mem {
        sbatch(format!("--mem={m}"));
    }
    for a in &options.sbatch_args {
        sbatch(a.clone());
    }
    let mut command: Vec<String> = std::iter::once(worker.program.display().to_string())
        .chain(worker.args.iter().map(|a| a.to_string_lossy().into_owned()))
        .map(|a| quote(&a))
        .collect();
    command.push(quote(&root));
    s.push_str(&format!(
        "# Written by `psychrnn sweep run --executor slurm`: array task i runs the run on line i+1 of\n\
         # {list}. SIGINT ({secs} s before the time limit) makes a run checkpoint and stop;\n\
         # `psychrnn sweep run` again resubmits what is not done.\n\
         set -eu\n\
         read -r index name < <(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {list_q})\n\
         echo \"== $(date +%s) on $(hostname): slurm job ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\" >> {root_q}/logs/\"$name\".log\n\
         exec {cmd} \"$index\" --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" >> {root_q}/logs/\"$name\".log 2>&1\n",
        list = list.display(),
        secs = options.signal_seconds,
        list_q = quote(&list.display().to_string()),
        root_q = quote(&root),
        cmd = command.join(" "),
    ));
    s
}

/// The job name of a sweep's arrays: `psychrnn-<name>`.
pub fn job_name(sweep: &SweepDir) -> String {
    format!("psychrnn-{}", sweep.plan.name)
}

/// The submissions made so far (`slurm/submissions.jsonl`; a line that does not parse is skipped).
pub fn submissions(sweep: &SweepDir) -> Vec<Submission> {
    let text = std::fs::read_to_string(sweep.slurm_dir().join("submissions.jsonl")).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Submits `todo` (plan indices) as job arrays of at most `max_array_size` tasks each; returns
/// the submissions.
///
/// # Errors
/// [`Error::Write`] for a script or list that cannot be written; [`Error::Invalid`] with
/// sbatch's message when it refuses.
pub fn submit(sweep: &SweepDir, todo: &[usize], worker: &Worker, options: &SlurmOptions) -> Result<Vec<Submission>> {
    let dir = sweep.slurm_dir();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
    let chunk = max_array_size().saturating_sub(1).max(1);
    let mut made = Vec::new();
    let first = submissions(sweep).len();
    for (k, runs) in todo.chunks(chunk).enumerate() {
        let n = first + k;
        let list = dir.join(format!("array-{n:03}.runs"));
        let mut lines = String::new();
        for &i in runs {
            lines.push_str(&format!("{i} {}\n", sweep.plan.run(i)?.name));
        }
        write_atomically(&list, lines.as_bytes())?;
        let script_path = dir.join(format!("array-{n:03}.sh"));
        write_atomically(&script_path, script(sweep, worker, options, &list, runs.len()).as_bytes())?;
        let path = script_path.display().to_string();
        let out = call("sbatch", &["--parsable", &path])?;
        if !out.status.success() {
            return Err(Error::invalid(
                "sbatch",
                format!("refused {path}: {}", String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
        if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid("sbatch", format!("printed no job id for {path}: {stdout:?}")));
        }
        let submission = Submission { job_id, script: script_path, runs: runs.to_vec(), submitted_unix: unix_now() };
        let line = serde_json::to_string(&submission).map_err(|e| Error::invalid("submission", e.to_string()))?;
        let record = dir.join("submissions.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&record)
            .map_err(|source| Error::Write { path: record.clone(), source })?;
        writeln!(file, "{line}").map_err(|source| Error::Write { path: record.clone(), source })?;
        made.push(submission);
    }
    Ok(made)
}

/// The queue's view of the sweep's submissions (nothing to ask when there are none).
pub fn queue(sweep: &SweepDir) -> QueueView {
    let subs = submissions(sweep);
    if subs.is_empty() {
        return QueueView { answered: true, ..QueueView::default() };
    }
    let ids: Vec<&str> = subs.iter().map(|s| s.job_id.as_str()).collect();
    let jobs = ids.join(",");
    let Ok(out) = call("squeue", &["-h", "-r", "-j", &jobs, "-o", "%F|%K|%T"]) else { return QueueView::default() };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Every job has left the queue (Slurm forgets finished jobs): nothing is queued.
        let answered = stderr.contains("Invalid job id");
        return QueueView { answered, ..QueueView::default() };
    }
    let mut view = QueueView { answered: true, ..QueueView::default() };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split('|');
        let (Some(job), Some(task), Some(state)) = (f.next(), f.next(), f.next()) else { continue };
        let Some(sub) = subs.iter().find(|s| s.job_id == job) else { continue };
        let Some(&run) = task.parse::<usize>().ok().and_then(|t| sub.runs.get(t)) else { continue };
        let queued = match state {
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "SUSPENDED" | "RESV_DEL_HOLD" => Queued::Pending,
            _ => Queued::Running,
        };
        view.runs.insert(run, (format!("{job}_{task}"), queued));
    }
    view
}

/// Cancels the queued and running tasks of the sweep's submissions (`scancel`).
///
/// # Errors
/// [`Error::Invalid`] if scancel cannot be run or refuses.
pub fn cancel(sweep: &SweepDir) -> Result<()> {
    let ids: Vec<String> = submissions(sweep).into_iter().map(|s| s.job_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let args: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = call("scancel", &args)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::invalid("scancel", String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}
