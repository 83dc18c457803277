//! What one case runs. The library targets run in this process (a panic is caught and is a
//! finding); the command line runs the `psychrnn` binary as a child under an address-space limit
//! (so an abort or a crash is a finding too, and the campaign survives it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use psychrnn_core::Registry;
use psychrnn_core::model::Trajectory;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_train::Experiment;

/// How a case ended, when it did not panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input was accepted (and, for a manifest, a small batch ran through the network).
    Accepted,
    /// The input was refused with an error message (never empty).
    Refused(String),
}

/// Steps x units above which a built experiment is not run forward (to keep cases fast).
const FORWARD_LIMIT: usize = 200_000;

/// Runs above which a planned sweep is not validated (each run builds an experiment).
const SWEEP_VALIDATION_LIMIT: usize = 64;

/// Plans `text` as the sweep file `path` (its manifests relative to `path`'s directory) and, for a
/// plan of at most [`SWEEP_VALIDATION_LIMIT`] runs, checks every run as `psychrnn sweep` does
/// before starting anything: each run's experiment is built with its overrides.
pub fn sweep_case(text: &str, path: &Path, registry: &Registry) -> Outcome {
    let plan = match psychrnn_sweep::plan::Plan::from_text(text, path) {
        Ok(plan) => plan,
        Err(e) => return refused(e.to_string()),
    };
    if plan.runs.len() > SWEEP_VALIDATION_LIMIT {
        return Outcome::Accepted;
    }
    match plan
        .validate(&mut |manifest, overrides| Experiment::load_with_overrides(manifest, registry, overrides).map(|_| ()))
    {
        Ok(()) => Outcome::Accepted,
        Err(e) => refused(e.to_string()),
    }
}

/// Parses `text` as a manifest and builds its experiment (relative paths from `base_dir`); if
/// both succeed and the network is small, generates two trials of its task, runs them through
/// its initial network, and trains it for two updates (checks every update, the validation
/// batch at most 16 trials).
pub fn manifest_case(text: &str, base_dir: &Path, registry: &Registry) -> Outcome {
    let built = psychrnn_core::Manifest::parse(text, Path::new("fuzz.toml"))
        .and_then(|m| Experiment::from_manifest(&m, registry, "fuzz", base_dir));
    let mut exp = match built {
        Ok(exp) => exp,
        Err(e) => return refused(e.to_string()),
    };
    let timing = exp.task.timing();
    if timing.n_steps().saturating_mul(exp.model.n_rec()) > FORWARD_LIMIT {
        return Outcome::Accepted;
    }
    let batch = exp.task.generate_batch(2, &mut stream(exp.seed, Purpose::User, 0));
    let ran = psychrnn_train::trainer::initial_params(&exp)
        .and_then(|params| exp.model.forward(&params, batch.inputs.view(), None, &mut Trajectory::default()));
    if let Err(e) = ran {
        return refused(e.to_string());
    }
    if timing.n_batch > 64 {
        return Outcome::Accepted;
    }
    let updates = 2;
    exp.training.training_iters = updates * timing.n_batch as u64;
    exp.training.validation_batch_size = Some(exp.training.validation_batch_size.unwrap_or(16).min(16));
    exp.training.checkpoint_epoch = 0;
    exp.training.save_training_weights_epoch = None;
    for epoch in [&mut exp.training.loss_epoch, &mut exp.training.performance_epoch] {
        *epoch = (*epoch).clamp(1, updates);
    }
    match psychrnn_train::train(&exp, &mut psychrnn_train::trainer::Silent) {
        Ok(_) => Outcome::Accepted,
        Err(e) => refused(e.to_string()),
    }
}

/// Reads `bytes` as an `.npz` archive.
pub fn npz_case(bytes: &[u8]) -> Outcome {
    match psychrnn_core::npz::npz_from_bytes(bytes, Path::new("fuzz.npz")) {
        Ok(_) => Outcome::Accepted,
        Err(e) => refused(e.to_string()),
    }
}

/// Reads `bytes` as one `.npy` array.
pub fn npy_case(bytes: &[u8]) -> Outcome {
    match psychrnn_core::npz::npy_from_bytes("a", bytes) {
        Ok(_) => Outcome::Accepted,
        Err(e) => refused(e),
    }
}

fn refused(message: String) -> Outcome {
    Outcome::Refused(if message.trim().is_empty() { "<empty error message>".into() } else { message })
}

/// How a command-line case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliOutcome {
    /// Exit code 0.
    Success,
    /// A non-zero exit code with an error message (no panic), and the end of stderr.
    Error(i32, String),
    /// A Rust panic (exit code 101 or "panicked at" on stderr), with the end of stderr.
    Panic(String),
    /// Killed by a signal (an abort, e.g. a failed allocation, or a crash), with the end of stderr.
    Crash(i32, String),
    /// Still running after the time limit (killed).
    Timeout,
}

/// The `psychrnn` binary run in a scratch directory under an address-space limit.
#[derive(Clone, Debug)]
pub struct CliTarget {
    /// The binary.
    pub binary: PathBuf,
    /// The scratch directory the commands run in.
    pub workdir: PathBuf,
    /// `ulimit -v` of each case, in KiB.
    pub memory_kib: u64,
    /// Time after which a case is killed.
    pub timeout: Duration,
}

impl CliTarget {
    /// Runs `psychrnn args...`.
    ///
    /// # Errors
    /// If the shell cannot be started.
    pub fn run(&self, args: &[String]) -> std::io::Result<CliOutcome> {
        use std::os::unix::process::ExitStatusExt;
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", self.memory_kib))
            .arg(&self.binary)
            .args(args)
            .current_dir(&self.workdir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(s) = stderr.as_mut() {
                let _ = std::io::Read::read_to_string(s, &mut text);
            }
            text
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let text = reader.join().unwrap_or_default();
        let tail: String = {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(6)..].join("\n")
        };
        Ok(match status {
            None => CliOutcome::Timeout,
            Some(s) if text.contains("panicked at") || s.code() == Some(101) => CliOutcome::Panic(tail),
            Some(s) if s.signal().is_some() => CliOutcome::Crash(s.signal().unwrap_or(0), tail),
            Some(s) if s.success() => CliOutcome::Success,
            Some(s) => CliOutcome::Error(s.code().unwrap_or(-1), tail),
        })
    }
}
