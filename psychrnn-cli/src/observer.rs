//! What the CLI does while training: progress (a bar on a terminal, plain log lines otherwise)
//! the periodic weight files of `save_training_weights_epoch`, checkpoints, and Ctrl-C.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use psychrnn_train::checkpoint::write_checkpoint;
use psychrnn_train::run_dir::checkpoint_path;

use psychrnn_core::Error;
use psychrnn_core::npz::{NpyArray, write_npz};
use psychrnn_train::trainer::MetricRecord;
use psychrnn_train::{MetricsRow, StopReason, TrainingObserver, TrainingState};

/// Reports training progress on stderr and keeps periodic weight files and checkpoints.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
    weights_dir: PathBuf,
    checkpoint: PathBuf,
    interrupted: Arc<AtomicBool>,
    /// Whether the checks reported to `on_metric` are curriculum checks (else validation).
    curriculum: bool,
    /// The run's metric (`accuracy`, `rmse`, ...), printed with each logged update.
    metric: String,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines when it is not; nothing unless `verbose`.
    /// Periodic files go into the run directory `dir`; `interrupted` (set by Ctrl-C) stops
    /// training after a checkpoint. `curriculum` says whether the metric checks are curriculum
    /// checks (printed with their stage) or validation checks (`performance_cutoff`); `metric`
    /// is the run's metric, printed with each logged update as PsychRNN prints accuracy.
    pub fn new(
        verbose: bool,
        dir: &std::path::Path,
        interrupted: Arc<AtomicBool>,
        curriculum: bool,
        metric: String,
    ) -> Self {
        let bar = (verbose && std::io::stderr().is_terminal()).then(|| {
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} updates, eta {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            ProgressBar::new(0).with_style(style)
        });
        Progress {
            bar,
            verbose,
            weights_dir: dir.join("training_weights"),
            checkpoint: checkpoint_path(dir),
            interrupted,
            curriculum,
            metric,
        }
    }
}

/// The line of a logged update, as PsychRNN prints it (`Iter <trials>, Minibatch Loss= ...`)
/// with the run's `metric`.
pub fn log_line(row: &MetricsRow, metric: &str) -> String {
    format!(
        "Iter {}, Minibatch Loss= {:.6}, {}= {:.3}",
        row.trials,
        row.loss + row.regularization,
        metric,
        row.score(metric)
    )
}

/// The line of a metric check: a curriculum's (with its stage) or `performance_cutoff`'s.
pub fn metric_line(record: &MetricRecord, curriculum: bool) -> String {
    if curriculum {
        format!("Update {}: stage {} metric {:.4}", record.iteration, record.stage, record.value)
    } else {
        format!("Update {}: validation {:.4} ({} trials)", record.iteration, record.value, record.trials)
    }
}

impl TrainingObserver for Progress {
    fn on_start(&mut self, total_updates: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total_updates);
        } else if self.verbose {
            say!("training: {total_updates} updates");
        }
    }

    fn on_update(&mut self, _: &psychrnn_train::UpdateReport) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn on_log(&mut self, row: &MetricsRow) {
        let line = log_line(row, &self.metric);
        if let Some(bar) = &self.bar {
            bar.set_message(line);
        } else if self.verbose {
            say!("{line}");
        }
    }

    fn on_weights(&mut self, iteration: u64, arrays: &[NpyArray]) -> psychrnn_core::Result<()> {
        std::fs::create_dir_all(&self.weights_dir)
            .map_err(|source| Error::Write { path: self.weights_dir.clone(), source })?;
        write_npz(&self.weights_dir.join(format!("weights_{iteration}.npz")), arrays)
    }

    fn on_checkpoint(&mut self, state: &TrainingState) -> psychrnn_core::Result<()> {
        if let Some(dir) = self.checkpoint.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
        }
        write_checkpoint(&self.checkpoint, state)
    }

    fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn on_metric(&mut self, record: &MetricRecord) {
        let line = metric_line(record, self.curriculum);
        if let Some(bar) = &self.bar {
            bar.println(line);
        } else if self.verbose {
            say!("{line}");
        }
    }

    fn on_end(&mut self, reason: &StopReason) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if self.verbose {
            say!("Optimization finished: {reason}");
        }
    }
}
