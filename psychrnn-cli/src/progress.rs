//! Training progress: a progress bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use psychrnn_core::{MetricsRow, StopReason, TrainingObserver};

/// Reports training progress on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines when it is not; nothing unless `verbose`.
    pub fn new(verbose: bool) -> Self {
        let bar = (verbose && std::io::stderr().is_terminal()).then(|| {
            let style =
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} updates, eta {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            ProgressBar::new(0).with_style(style)
        });
        Progress { bar, verbose }
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

    fn on_end(&mut self, reason: &StopReason) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if self.verbose {
            eprintln!("Optimization finished: {reason}");
        }
    }
}
