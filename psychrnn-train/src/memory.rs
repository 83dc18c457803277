//! Will a run fit? The memory a run needs, estimated from the manifest before anything is
//! allocated, against the memory this process may use, so that a typo (`N_rec = 1000000`,
//! `N_batch = 1e7`) is one clear error naming the fields instead of an aborted process.

use psychrnn_core::error::{Error, Result};

/// The sizes that drive a run's memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSize {
    /// Recurrent units.
    pub n_rec: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// Time steps per trial.
    pub n_steps: usize,
    /// Trials per training batch.
    pub n_batch: usize,
    /// Trials in the final test batch.
    pub test_batch: usize,
}

/// Float32 copies of each weight a training run keeps: the raw parameter, masks and fixed
/// values, the effective weight, its gradient, and the optimizer's two moments (Adam), with
/// room for the checkpoint being written.
const WEIGHT_COPIES: f64 = 10.0;
/// Float32 arrays of `[T, B, N_rec]` a training update keeps for backpropagation through time:
/// states, pre-activations, their gradients, and the noise, on two halves of the batch.
const TRAJECTORY_COPIES: f64 = 6.0;
/// `[T, B, N_rec]` arrays of the test batch: its states and the copy written to disk.
const TEST_COPIES: f64 = 2.0;

impl RunSize {
    /// Float32 values of the weights, of one update's trajectories and of the test batch.
    fn terms(&self) -> [f64; 3] {
        let f = |n: usize| n as f64;
        let weights = f(self.n_rec) * (f(self.n_rec) + f(self.n_in) + f(self.n_out) + 2.0);
        let per_trial = f(self.n_steps) * (f(self.n_rec) + f(self.n_in) + 2.0 * f(self.n_out));
        [
            WEIGHT_COPIES * weights,
            TRAJECTORY_COPIES * per_trial * f(self.n_batch),
            TEST_COPIES * per_trial * f(self.test_batch),
        ]
    }

    /// The estimated peak bytes of a training run of this size (a lower bound within a small
    /// factor: what the weights, the trajectories of one update and the test batch need).
    pub fn estimated_bytes(&self) -> f64 {
        4.0 * self.terms().iter().sum::<f64>()
    }

    /// Refuses a run that cannot fit in `available` bytes, naming the fields and the estimate.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `model.N_rec`, `task.N_batch` or `training.test_batch_size`
    /// (whichever term dominates) with the estimate and the memory available.
    pub fn check_fits(&self, available: f64) -> Result<()> {
        let need = self.estimated_bytes();
        if need <= available {
            return Ok(());
        }
        let [weights, training, test] = self.terms();
        let field = if weights >= training.max(test) {
            "model.N_rec"
        } else if training >= test {
            "task.N_batch"
        } else {
            "training.test_batch_size"
        };
        Err(Error::invalid(
            field,
            format!(
                "this run needs about {} (N_rec = {}, {} steps per trial from task.T / task.dt, N_batch = {}, test_batch_size = {}) but {} is available to this process; make it smaller",
                gigabytes(need),
                self.n_rec,
                self.n_steps,
                self.n_batch,
                self.test_batch,
                gigabytes(available)
            ),
        ))
    }
}

fn gigabytes(bytes: f64) -> String {
    if bytes >= 1e9 { format!("{:.1} GB", bytes / 1e9) } else { format!("{:.0} MB", bytes / 1e6) }
}

/// Bytes this process may allocate: the lesser of the free physical memory (`MemAvailable`)
/// and the process's address-space limit (`ulimit -v`); `None` where neither can be read
/// (outside Linux), and then nothing is refused.
pub fn available_bytes() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let free = meminfo.as_deref().and_then(|m| kib_field(m, "MemAvailable:")).map(|k| k * 1024.0);
    let limits = std::fs::read_to_string("/proc/self/limits").ok();
    let limit = limits.as_deref().and_then(|l| {
        l.lines()
            .find(|line| line.starts_with("Max address space"))
            .and_then(|line| line.split_whitespace().nth(3))
            .and_then(|soft| soft.parse::<f64>().ok())
    });
    match (free, limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn kib_field(meminfo: &str, key: &str) -> Option<f64> {
    meminfo.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(n_rec: usize, n_steps: usize, n_batch: usize) -> RunSize {
        RunSize { n_rec, n_in: 2, n_out: 2, n_steps, n_batch, test_batch: 256 }
    }

    #[test]
    fn the_estimate_counts_weights_trajectories_and_the_test_batch() {
        let s = size(50, 200, 64);
        let weights = 50.0 * (50.0 + 2.0 + 2.0 + 2.0);
        let per_trial = 200.0 * (50.0 + 2.0 + 4.0);
        let expected = 4.0 * (10.0 * weights + 6.0 * per_trial * 64.0 + 2.0 * per_trial * 256.0);
        assert_eq!(s.estimated_bytes(), expected);
        // PyCog's Romo network (500 units, 245 steps, batch 20, test 1100): its 1,100 test
        // trials' states dominate (1.1 GB); it trains within 3 GB on this machine.
        let romo = RunSize { n_rec: 500, n_in: 4, n_out: 2, n_steps: 245, n_batch: 20, test_batch: 1100 };
        assert!((1e9..3e9).contains(&romo.estimated_bytes()), "{}", romo.estimated_bytes());
    }

    #[test]
    fn a_run_that_cannot_fit_names_the_dominant_field() {
        let free = 8e9;
        assert!(size(50, 200, 64).check_fits(free).is_ok());
        let err = size(1_000_000, 200, 64).check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("model.N_rec: this run needs about 407") && err.contains("N_rec = 1000000"), "{err}");
        assert!(err.contains("8.0 GB is available"), "{err}");
        let err = size(50, 200, 10_000_000).check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("task.N_batch:"), "{err}");
        let err = RunSize { test_batch: 100_000_000, ..size(50, 200, 64) }.check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("training.test_batch_size:"), "{err}");
    }

    #[test]
    fn available_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let bytes = available_bytes().unwrap();
            assert!(bytes > 1e6, "{bytes}");
        }
    }
}
