//! The paradigms of PyCog (Song, Yang & Wang 2016), with PyCog's trial structure: a short
//! fixation, the stimulus, a decision epoch; catch trials without a stimulus; targets high (1)
//! on the chosen output and low (0.2) elsewhere during fixation and decision, which alone are
//! in the loss mask; trials of variable duration padded to the longest of the batch; the choice
//! read from the larger output at each trial's last step.
//!
//! Pair these tasks with the `pycog` preset (`preset = "pycog"` in the manifest), which adds
//! PyCog's input baseline, input noise and rectification, its E/I network and its training
//! semantics; `examples/pycog/` has a manifest per paradigm.

pub mod context;
pub mod multisensory;
pub mod rdm;
pub mod romo;
pub mod sequence;
pub mod sine;

use psychrnn_core::task::Timeline;
use psychrnn_core::task::duration::{Duration, exponential_between, round_down};
use psychrnn_core::{Error, Result, Rng, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;

/// Target on the chosen output during the decision epoch.
pub const HIGH: f32 = 1.0;
/// Target on the other outputs, and on every output during fixation and catch trials.
pub const LOW: f32 = 0.2;

/// PyCog's `truncated_exponential`: an exponential duration of mean `mean` drawn until it lies
/// in `[min, max)`, rounded down to a multiple of `dt` (ms).
pub fn truncated_exponential(rng: &mut Rng, dt: f64, mean: f64, min: f64, max: f64) -> f64 {
    round_down(exponential_between(rng, mean, min, max), dt)
}

/// PyCog's `uniform`: a duration uniform in `[min, max)`, rounded down to a multiple of `dt`.
pub fn uniform(rng: &mut Rng, dt: f64, min: f64, max: f64) -> f64 {
    round_down(Duration::Uniform { uniform: [min, max] }.sample(rng), dt)
}

/// PyCog's fixation before the stimulus in training (ms; 300-500 at test).
pub fn default_fixation() -> f64 {
    100.0
}

/// PyCog's decision epoch (ms).
pub fn default_decision() -> f64 {
    300.0
}

/// PyCog's catch-trial duration (ms) for most tasks.
pub fn default_catch_duration() -> f64 {
    1000.0
}

/// The catch-trial probability: the configured one, or PyCog's `1 / (n_conditions + 1)`.
fn catch_probability(configured: Option<f64>, n_conditions: usize) -> f64 {
    configured.unwrap_or(1.0 / (n_conditions as f64 + 1.0))
}

/// Draws whether this trial is a catch trial (probability `configured`, default PyCog's
/// `1 / (n_conditions + 1)`); if it is, writes it (`write_catch`, `duration` ms) and returns
/// its parameters (`catch = true`); `None` for a choice trial.
pub fn draw_catch(
    rng: &mut Rng,
    trial: &mut TrialMut<'_>,
    configured: Option<f64>,
    n_conditions: usize,
    duration: f64,
    dt: f64,
) -> Option<TrialParams> {
    if rng.random::<f64>() >= catch_probability(configured, n_conditions) {
        return None;
    }
    write_catch(trial, duration, dt);
    let mut params = TrialParams::new();
    params.insert("catch".into(), true.into());
    Some(params)
}

/// Checks a configured probability.
///
/// # Errors
/// [`Error::Invalid`] naming `field` if `p` is not in [0, 1].
pub fn check_probability(field: &str, p: Option<f64>) -> Result<()> {
    p.map_or(Ok(()), |p| Error::check_unit_interval(field, p).map(drop))
}

/// Checks that durations (ms) are positive.
///
/// # Errors
/// [`Error::Invalid`] naming the first field that is not.
pub fn check_durations(fields: &[(&str, f64)]) -> Result<()> {
    match fields.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
        Some((name, v)) => Err(Error::invalid(*name, format!("must be a positive duration (ms), got {v}"))),
        None => Ok(()),
    }
}

/// Checks that the task's `T` (the padded length of a batch) holds the longest trial.
///
/// # Errors
/// [`Error::Invalid`] naming `T` and the length needed.
pub fn check_fits(timing: &TaskTiming, longest_ms: f64) -> Result<()> {
    if timing.duration + 1e-9 < longest_ms {
        return Err(Error::invalid(
            "T",
            format!("must be at least {longest_ms} ms, the longest trial of this task, got {}", timing.duration),
        ));
    }
    Ok(())
}

/// The number of steps of a trial lasting `duration` ms (PyCog: `int(T / dt)`).
pub fn n_steps(duration: f64, dt: f64) -> usize {
    (duration / dt + 1e-9).floor() as usize
}

/// A catch trial of `duration` ms: no stimulus, every output held low, all of it in the mask.
fn write_catch(trial: &mut TrialMut<'_>, duration: f64, dt: f64) {
    let steps = n_steps(duration, dt).min(trial.targets.nrows());
    *trial.length = steps;
    for s in 0..steps {
        trial.targets.row_mut(s).fill(LOW);
        trial.mask.row_mut(s).fill(1.0);
    }
}

/// Finishes a choice trial: its targets and mask (low on every output during `fixation`, `high`
/// on `choice` and low elsewhere during `decision`, masked in those two epochs only), its length
/// (to the end of the timeline), and `params` with the choice and the epochs' start times.
pub fn finish_choice(
    trial: &mut TrialMut<'_>,
    timeline: &Timeline,
    dt: f64,
    choice: usize,
    high: f32,
    mut params: TrialParams,
) -> TrialParams {
    *trial.length = n_steps(timeline.end(), dt).min(trial.targets.nrows());
    for s in timeline.steps("fixation", dt) {
        trial.targets.row_mut(s).fill(LOW);
        trial.mask.row_mut(s).fill(1.0);
    }
    for s in timeline.steps("decision", dt) {
        let mut row = trial.targets.row_mut(s);
        row.fill(LOW);
        row[choice] = high;
        trial.mask.row_mut(s).fill(1.0);
    }
    params.insert("choice".into(), choice.into());
    timeline.record(&mut params);
    params
}

/// Sets input `channel` to `value` during epoch `epoch`.
pub fn set_input(trial: &mut TrialMut<'_>, timeline: &Timeline, dt: f64, epoch: &str, channel: usize, value: f64) {
    for s in timeline.steps(epoch, dt) {
        trial.inputs[[s, channel]] = value as f32;
    }
}

/// PyCog's coherence-to-input map, `(1 + scale * coh / 100) / 2`.
pub fn coherence_input(scale: f64, coherence: f64) -> f64 {
    (1.0 + scale * coherence / 100.0) / 2.0
}

#[cfg(test)]
pub(crate) mod test_support {
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_core::{Task, TrialBatch};

    /// A table from TOML text.
    pub fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    /// Builds `tag` from a TOML table with `[task]`-style keys (timing included).
    pub fn build(table: toml::Table) -> Box<dyn Task> {
        try_build(table).unwrap()
    }

    /// As [`build`], with the error as text.
    pub fn try_build(table: toml::Table) -> Result<Box<dyn Task>, String> {
        let registry = crate::registry().unwrap();
        let mut t = table;
        for (k, v) in [("dt", 20.0), ("tau", 100.0)] {
            t.entry(k).or_insert(toml::Value::Float(v));
        }
        t.entry("N_batch").or_insert(toml::Value::Integer(16));
        psychrnn_train::experiment::task_from_table(&t, &registry, std::path::Path::new("."))
            .map(|(task, _)| task)
            .map_err(|e| e.to_string())
    }

    /// A batch of `n` trials (seeded).
    pub fn batch(task: &dyn Task, n: usize) -> TrialBatch {
        task.generate_batch(n, &mut stream(7, Purpose::User, 0))
    }

    /// Trial parameters as numbers.
    pub fn num(p: &psychrnn_core::TrialParams, key: &str) -> f64 {
        p[key].as_f64().unwrap()
    }

    /// Whether trial `b` is a catch trial.
    pub fn is_catch(batch: &TrialBatch, b: usize) -> bool {
        batch.trial_params[b].get("catch").and_then(serde_json::Value::as_bool).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};

    #[test]
    fn truncated_exponential_stays_in_range_on_the_grid_with_the_right_mean() {
        let mut rng = stream(1, Purpose::User, 0);
        let draws: Vec<f64> = (0..20_000).map(|_| truncated_exponential(&mut rng, 20.0, 330.0, 80.0, 1500.0)).collect();
        assert!(draws.iter().all(|&d| (60.0..1500.0).contains(&d) && d % 20.0 == 0.0));
        // Mean of an exponential truncated to [80, 1500): 80 + 330 - (1500 - 80) e^{-1420/330}/(1 - e^{-1420/330}).
        let q = (-1420.0f64 / 330.0).exp();
        let want = 80.0 + 330.0 - 1420.0 * q / (1.0 - q) - 10.0; // minus half a step of rounding down
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - want).abs() < 8.0, "mean {mean}, expected about {want}");
    }

    #[test]
    fn uniform_durations_are_rounded_down_to_the_grid() {
        let mut rng = stream(2, Purpose::User, 0);
        for _ in 0..1000 {
            let d = uniform(&mut rng, 20.0, 2500.0, 3500.0);
            assert!((2500.0..3500.0).contains(&d) && d % 20.0 == 0.0);
        }
    }
}
