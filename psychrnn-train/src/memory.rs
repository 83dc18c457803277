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
    /// Trials in each validation batch (0 without validation checks).
    pub validation_batch: usize,
    /// Megabytes of test-trial states kept (`training.test_states_mb`).
    pub test_states_mb: f64,
}

/// Float32 copies of each weight a training run keeps: the raw parameter, masks and fixed
/// values, the effective weight, its gradient, and the optimizer's two moments (Adam), with
/// room for the checkpoint being written.
const WEIGHT_COPIES: f64 = 10.0;
/// Float32 arrays of `[T, B, N_rec]` a training update keeps for backpropagation through time:
/// states, pre-activations, their gradients, and the noise, on two halves of the batch.
const TRAJECTORY_COPIES: f64 = 6.0;
/// `[T, N_rec]` arrays kept per test trial within `test_states_mb`: states, rates and the copy
/// written to disk.
const TEST_STATE_COPIES: f64 = 3.0;

impl RunSize {
    /// Float32 values of the weights, of one update's trajectories and of the held-out batches
    /// (test and validation: their inputs, targets, masks and outputs, one chunk of states
    /// ([`crate::trainer::HELD_OUT_CHUNK_BYTES`]) and the test states kept).
    fn terms(&self) -> [f64; 3] {
        let f = |n: usize| n as f64;
        let weights = f(self.n_rec) * (f(self.n_rec) + f(self.n_in) + f(self.n_out) + 2.0);
        let per_trial = f(self.n_steps) * (f(self.n_rec) + f(self.n_in) + 2.0 * f(self.n_out));
        let held_out_io = f(self.n_steps) * (f(self.n_in) + 4.0 * f(self.n_out));
        let states_kept = (self.test_states_mb * 1e6 / 4.0).min(f(self.n_steps) * f(self.n_rec) * f(self.test_batch));
        [
            WEIGHT_COPIES * weights,
            TRAJECTORY_COPIES * per_trial * f(self.n_batch),
            held_out_io * f(self.test_batch.max(self.validation_batch))
                + f(crate::trainer::HELD_OUT_CHUNK_BYTES) / 4.0
                + TEST_STATE_COPIES * states_kept,
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
    /// [`Error::Invalid`] for `model.N_rec`, `task.N_batch` or `training.test_batch_size` /
    /// `training.validation_batch_size` (whichever term dominates) with the estimate and the
    /// memory available.
    pub fn check_fits(&self, available: f64) -> Result<()> {
        let need = self.estimated_bytes();
        if need <= available {
            return Ok(());
        }
        let [weights, training, held_out] = self.terms();
        let field = if weights >= training.max(held_out) {
            "model.N_rec"
        } else if training >= held_out {
            "task.N_batch"
        } else if self.test_batch >= self.validation_batch {
            "training.test_batch_size"
        } else {
            "training.validation_batch_size"
        };
        Err(Error::invalid(
            field,
            format!(
                "this run needs about {} (N_rec = {}, {} steps per trial from task.T / task.dt, N_batch = {}, test_batch_size = {}, validation_batch_size = {}) but {} is available to this process; make it smaller",
                gigabytes(need),
                self.n_rec,
                self.n_steps,
                self.n_batch,
                self.test_batch,
                self.validation_batch,
                gigabytes(available)
            ),
        ))
    }
}

/// The sizes that drive a simulation's memory (`simulate`, the analyses' trials).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulationSize {
    /// Trials simulated per condition.
    pub trials: usize,
    /// Conditions (1 for a plain batch).
    pub conditions: usize,
    /// Time steps per trial.
    pub n_steps: usize,
    /// Recurrent units.
    pub n_rec: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
}

impl SimulationSize {
    /// Estimated peak bytes: float32 inputs (and their copy), targets, mask and outputs, and
    /// states, rates and the copy written to disk, for every trial.
    pub fn estimated_bytes(&self) -> f64 {
        let f = |n: usize| n as f64;
        4.0 * f(self.trials)
            * f(self.conditions)
            * f(self.n_steps)
            * (2.0 * f(self.n_in) + 3.0 * f(self.n_out) + 3.0 * f(self.n_rec))
    }

    /// Refuses a simulation that cannot fit in `available` bytes, naming `field` (the argument
    /// that sets the number of trials).
    ///
    /// # Errors
    /// [`Error::Invalid`] for `field` with the estimate and the memory available.
    pub fn check_fits(&self, field: &str, available: f64) -> Result<()> {
        let need = self.estimated_bytes();
        if need <= available {
            return Ok(());
        }
        let trials = if self.conditions == 1 {
            format!("{} trials", self.trials)
        } else {
            format!("{} trials per condition x {} conditions", self.trials, self.conditions)
        };
        Err(Error::invalid(
            field,
            format!(
                "{trials} of {} steps through {} units need about {} but {} is available to this process; simulate fewer trials",
                self.n_steps,
                self.n_rec,
                gigabytes(need),
                gigabytes(available)
            ),
        ))
    }

    /// [`SimulationSize::check_fits`] against [`available_bytes`] (nothing is refused where it
    /// is unknown).
    ///
    /// # Errors
    /// As [`SimulationSize::check_fits`].
    pub fn check(&self, field: &str) -> Result<()> {
        available_bytes().map_or(Ok(()), |available| self.check_fits(field, available))
    }
}

fn gigabytes(bytes: f64) -> String {
    if bytes >= 1e9 { format!("{:.1} GB", bytes / 1e9) } else { format!("{:.0} MB", bytes / 1e6) }
}

/// The cap set by [`limit_to`] (bytes; `u64::MAX` for none).
static LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Caps what [`available_bytes`] reports at `bytes` for the rest of this process: a scheduler's
/// allocation smaller than the machine, or a fuzzer's or a test's bound.
pub fn limit_to(bytes: u64) {
    LIMIT.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// Bytes this process may allocate: the least of the free physical memory (`MemAvailable`),
/// the process's address-space limit (`ulimit -v`) and the cap of [`limit_to`]; `None` where
/// none is known (outside Linux, no cap), and then nothing is refused.
pub fn available_bytes() -> Option<f64> {
    let cap = match LIMIT.load(std::sync::atomic::Ordering::Relaxed) {
        u64::MAX => None,
        bytes => Some(bytes as f64),
    };
    [system_bytes(), cap].into_iter().flatten().reduce(f64::min)
}

/// The lesser of `MemAvailable` and `ulimit -v`, where they can be read.
fn system_bytes() -> Option<f64> {
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
        RunSize {
            n_rec,
            n_in: 2,
            n_out: 2,
            n_steps,
            n_batch,
            test_batch: 256,
            validation_batch: 0,
            test_states_mb: 64.0,
        }
    }

    #[test]
    fn the_estimate_counts_weights_trajectories_and_the_held_out_batches() {
        let s = size(50, 200, 64);
        let weights = 50.0 * (50.0 + 2.0 + 2.0 + 2.0);
        let per_trial = 200.0 * (50.0 + 2.0 + 4.0);
        let held_out = 200.0 * (2.0 + 8.0) * 256.0 + (64 << 20) as f64 / 4.0 + 3.0 * 200.0 * 50.0 * 256.0;
        let expected = 4.0 * (10.0 * weights + 6.0 * per_trial * 64.0 + held_out);
        assert_eq!(s.estimated_bytes(), expected);
        // PyCog's Romo network (500 units, 245 steps, batch 20, validation 1000, test 1100):
        // the held-out batches run in chunks, their kept states are bounded by test_states_mb,
        // and it trains in about 440 MB.
        let romo = RunSize { n_in: 4, n_rec: 500, validation_batch: 1000, test_batch: 1100, ..size(500, 245, 20) };
        assert!((2e8..5e8).contains(&romo.estimated_bytes()), "{}", romo.estimated_bytes());
    }

    #[test]
    fn a_run_that_cannot_fit_names_the_dominant_field() {
        let free = 8e9;
        assert!(size(50, 200, 64).check_fits(free).is_ok());
        let err = size(1_000_000, 200, 64).check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("model.N_rec: this run needs about 403") && err.contains("N_rec = 1000000"), "{err}");
        assert!(err.contains("8.0 GB is available"), "{err}");
        let err = size(50, 200, 10_000_000).check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("task.N_batch:"), "{err}");
        let err = RunSize { test_batch: 100_000_000, ..size(50, 200, 64) }.check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("training.test_batch_size:"), "{err}");
        let err =
            RunSize { validation_batch: 100_000_000, ..size(50, 200, 64) }.check_fits(free).unwrap_err().to_string();
        assert!(err.starts_with("training.validation_batch_size:"), "{err}");
    }

    #[test]
    fn a_simulation_that_cannot_fit_names_its_argument() {
        let size = SimulationSize { trials: 1000, conditions: 1, n_steps: 100, n_rec: 50, n_in: 2, n_out: 2 };
        assert_eq!(size.estimated_bytes(), 4.0 * 1000.0 * 100.0 * (4.0 + 6.0 + 150.0));
        assert!(size.check_fits("--trials", 1e9).is_ok());
        let huge = SimulationSize { trials: 4_000_000_000, ..size };
        let err = huge.check_fits("--trials", 8e9).unwrap_err().to_string();
        assert!(err.starts_with("--trials: 4000000000 trials of 100 steps through 50 units need about"), "{err}");
        assert!(err.contains("8.0 GB is available"), "{err}");
        let per_condition = SimulationSize { trials: 100_000_000, conditions: 20, ..size };
        let err = per_condition.check_fits("trials", 8e9).unwrap_err().to_string();
        assert!(err.starts_with("trials: 100000000 trials per condition x 20 conditions of 100 steps"), "{err}");
    }

    #[test]
    fn a_cap_lowers_the_memory_available() {
        // Other tests of this binary read available_bytes; a cap above any machine changes none.
        limit_to(u64::MAX - 1);
        assert!(available_bytes().is_some_and(|b| b <= (u64::MAX - 1) as f64));
        limit_to(u64::MAX);
    }

    #[test]
    fn available_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let bytes = available_bytes().unwrap();
            assert!(bytes > 1e6, "{bytes}");
        }
    }
}
