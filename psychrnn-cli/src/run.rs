//! `train`, `resume` and `replay`: one training runner writing one kind of run directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use psychrnn_core::Manifest;
use psychrnn_train::checkpoint::read_checkpoint;
use psychrnn_train::run_dir::{self, checkpoint_path, train_into};
use psychrnn_train::{Experiment, StopReason, TrainingState};

use crate::observer::Progress;
use crate::{CliError, CliResult};

/// Set by Ctrl-C; the trainer stops after the current update and writes a checkpoint.
fn interrupt_flag() -> Arc<AtomicBool> {
    if let Some(flag) = crate::host_interrupt() {
        return flag;
    }
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    // A second Ctrl-C while stopping is left to the default (immediate exit): the checkpoint of
    // the last `checkpoint_epoch` is intact either way.
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    if let Err(e) = installed {
        say!("warning: Ctrl-C will not stop training cleanly: {e}");
    }
    flag
}

/// Trains `exp` (from `resume` if given) into `dir`: the lock first, checkpoints while
/// training, then the run's files.
pub fn run(exp: Experiment, dir: &Path, resume: Option<TrainingState>, quiet: bool) -> CliResult<PathBuf> {
    for w in &exp.warnings {
        say!("warning: {w}");
    }
    let verbose = exp.training.verbosity && !quiet;
    let mut observer = Progress::new(verbose, dir, interrupt_flag(), exp.curriculum.is_some(), exp.metric_name());
    let (outcome, test) = train_into(dir, &exp, resume, &mut observer)?;
    if !quiet {
        say!(
            "{} updates ({} trials) in {:.1} s; test {} {:.3} on {} fresh trials; run directory {}",
            outcome.iterations,
            outcome.trials,
            outcome.training_seconds,
            exp.metric_name(),
            test.metric,
            test.batch.n_trials(),
            dir.display()
        );
    }
    match outcome.stop {
        StopReason::NonFinite { .. } => Err(CliError::Failed(format!(
            "training diverged ({}); the last good weights are in {}",
            outcome.stop,
            dir.display()
        ))
        .into()),
        StopReason::Interrupted { .. } => {
            Err(CliError::Interrupted(format!("{}; continue with `psychrnn resume {}`", outcome.stop, dir.display()))
                .into())
        }
        _ => Ok(dir.join("weights.npz")),
    }
}

/// `psychrnn train`: into a new (or empty) directory, or over an old run with `force`. Returns
/// the run directory.
pub fn train(
    manifest: &Path,
    out: Option<PathBuf>,
    overrides: &[String],
    force: bool,
    quiet: bool,
) -> CliResult<PathBuf> {
    train_experiment(crate::load_experiment(manifest, overrides)?, out, force, quiet)
}

/// [`train`] on manifest text that is in no file, resolved as the file `path` would be
/// ([`crate::load_experiment_text`]).
pub fn train_text(
    text: &str,
    path: &Path,
    out: Option<PathBuf>,
    overrides: &[String],
    force: bool,
    quiet: bool,
) -> CliResult<PathBuf> {
    train_experiment(crate::load_experiment_text(text, path, overrides)?, out, force, quiet)
}

fn train_experiment(exp: Experiment, out: Option<PathBuf>, force: bool, quiet: bool) -> CliResult<PathBuf> {
    let dir = out.unwrap_or_else(|| PathBuf::from("runs").join(&exp.name));
    make_room(&dir, force)?;
    run(exp, &dir, None, quiet)?;
    Ok(dir)
}

/// Refuses to train into a directory that holds anything unless `force`, which first empties an
/// old run directory so nothing of the old run remains.
fn make_room(dir: &Path, force: bool) -> CliResult<()> {
    if !run_dir::is_occupied(dir) {
        return Ok(());
    }
    if !force {
        return Err(format!(
            "{} already exists and is not empty; a new run would mix with its files. Choose another --out, `psychrnn resume {}` to continue it, or --force to delete it and train anew",
            dir.display(),
            dir.display()
        )
        .into());
    }
    Ok(run_dir::clear_run(dir)?)
}

/// `psychrnn resume`: continues a run from its latest checkpoint, in place.
pub fn resume(dir: &Path, quiet: bool) -> CliResult<()> {
    let lock = dir.join("manifest.lock.toml");
    let exp = crate::load_experiment(&lock, &[])?;
    let path = checkpoint_path(dir);
    let state = read_checkpoint(&path).map_err(|e| {
        format!("cannot resume {}: {e} (checkpoints are written every checkpoint_epoch updates)", dir.display())
    })?;
    if !quiet {
        say!("resuming {} after update {}", dir.display(), state.iteration);
    }
    run(exp, dir, Some(state), quiet).map(|_| ())
}

/// `psychrnn replay`: trains a lock manifest again and checks that it reproduces its run.
pub fn replay(lock_path: &Path, out: Option<PathBuf>, allow_mismatch: bool, force: bool, quiet: bool) -> CliResult<()> {
    let manifest = Manifest::load(lock_path)?;
    let lock = manifest.lock.clone().ok_or_else(|| {
        format!("{} is not a lock manifest (no [lock] section): train it with `psychrnn train`", lock_path.display())
    })?;
    let exp = crate::load_experiment(lock_path, &[])?;
    let mismatches = exp.lock_mismatches(&lock);
    if !mismatches.is_empty() {
        let list = mismatches.join("\n  ");
        if !allow_mismatch {
            return Err(format!(
                "refusing to replay: this build differs from the lock:\n  {list}\n(--allow-mismatch replays anyway)"
            )
            .into());
        }
        say!("warning: replaying despite differences from the lock:\n  {list}");
    }
    let original_dir = lock_path.parent().unwrap_or(Path::new("."));
    let dir = out.unwrap_or_else(|| original_dir.join("replay"));
    make_room(&dir, force)?;
    let weights = run(exp, &dir, None, quiet)?;
    let original = original_dir.join("weights.npz");
    if original.is_file() {
        let same = std::fs::read(&original)? == std::fs::read(&weights)?;
        if !same {
            return Err(CliError::Failed(format!("the replay's weights differ from {}", original.display())).into());
        }
        say!("replay reproduces {} byte for byte", original.display());
    }
    Ok(())
}
