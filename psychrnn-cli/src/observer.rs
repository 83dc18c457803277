//! What the CLI does while training: progress (a bar on a terminal, plain log lines otherwise)
//! and the periodic weight files of `save_training_weights_epoch`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

use psychrnn_core::npz::{NpyArray, write_npz};
use psychrnn_core::trainer::MetricRecord;
use psychrnn_core::{Error, MetricsRow, StopReason, TrainingObserver};

/// Reports training progress on stderr and keeps periodic weight files.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
    weights_dir: PathBuf,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines when it is not; nothing unless `verbose`.
    /// Periodic weight files go to `weights_dir`.
    pub fn new(verbose: bool, weights_dir: PathBuf) -> Self {
        let bar = (verbose && std::io::stderr().is_terminal()).then(|| {
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} updates, eta {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            ProgressBar::new(0).with_style(style)
        });
        Progress { bar, verbose, weights_dir }
    }
}

impl TrainingObserver for Progress {
    fn on_start(&mut self, total_updates: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total_updates);
        } else if self.verbose {
            eprintln!("training: {total_updates} updates");
        }
    }

    fn on_update(&mut self, _iteration: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn on_log(&mut self, row: &MetricsRow) {
        let line = format!(
            "Iter {}, Minibatch Loss= {:.6}, accuracy= {:.3}",
            row.trials,
            row.loss + row.regularization,
            row.accuracy
        );
        if let Some(bar) = &self.bar {
            bar.set_message(line);
        } else if self.verbose {
            eprintln!("{line}");
        }
    }

    fn on_weights(&mut self, iteration: u64, arrays: &[NpyArray]) -> psychrnn_core::Result<()> {
        std::fs::create_dir_all(&self.weights_dir)
            .map_err(|source| Error::Write { path: self.weights_dir.clone(), source })?;
        write_npz(&self.weights_dir.join(format!("weights_{iteration}.npz")), arrays)
    }

    fn on_metric(&mut self, record: &MetricRecord) {
        let line = format!("Update {}: stage {} metric {:.4}", record.iteration, record.stage, record.value);
        if let Some(bar) = &self.bar {
            bar.println(line);
        } else if self.verbose {
            eprintln!("{line}");
        }
    }

    fn on_end(&mut self, reason: &StopReason) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if self.verbose {
            eprintln!("Optimization finished: {reason}");
        }
    }
}
