//! `pycog_sequence`: PyCog's eye-movement sequence execution (Averbeck & Lee 2007), Fig 8 of
//! Song et al. 2016.
//!
//! A 3 x 3 grid of dots (0 top left ... 8 bottom right, 4 the centre at (0, 0); spacing 0.5).
//! Each trial runs one of 8 sequences of three moves from the centre: a 1 s inter-trial
//! interval (unconstrained), 1 s fixation on the centre, then three 500 ms movement epochs in
//! which the current dot and its two possible targets are shown. Inputs: 9 dot channels and 8
//! one-hot sequence channels (on for the whole trial). Outputs: the eye position (x, y), whose
//! target is the dot to look at, masked everywhere but the inter-trial interval. Trained with
//! one trial per update, run continuously (`training.continuous`). Accuracy: the fraction of
//! trials whose RMSE is within `tolerance`.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod, Timeline, blocks};
use psychrnn_core::{Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{check_durations, check_fits, n_steps};

/// The registry tag.
pub const TAG: &str = "pycog_sequence";
/// The 8 sequences: the dots visited after the centre (dot 4).
pub const SEQUENCES: [[usize; 3]; 8] =
    [[5, 1, 0], [3, 1, 2], [3, 7, 8], [5, 7, 6], [5, 1, 2], [3, 1, 0], [3, 7, 6], [5, 7, 8]];

/// The two targets shown from each dot a sequence passes through.
pub fn options(dot: usize) -> [usize; 2] {
    match dot {
        1 => [0, 2],
        3 | 5 => [1, 7],
        7 => [6, 8],
        _ => [3, 5],
    }
}

/// Screen coordinates of dot `k`.
pub fn position(k: usize) -> (f32, f32) {
    (-0.5 + 0.5 * (k % 3) as f32, -0.5 + 0.5 * (2 - k / 3) as f32)
}

fn iti() -> f64 {
    1000.0
}
fn fixation() -> f64 {
    1000.0
}
fn movement() -> f64 {
    500.0
}
fn tolerance() -> f64 {
    0.05
}

/// `[task] type = "pycog_sequence"` (durations in ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// Inter-trial interval (unconstrained output).
    #[serde(default = "iti")]
    pub iti: f64,
    /// Fixation on the centre.
    #[serde(default = "fixation")]
    pub fixation: f64,
    /// Each of the three movement epochs.
    #[serde(default = "movement")]
    pub movement: f64,
    /// A trial counts as correct when its RMSE is at most this (PyCog's target: 0.05).
    #[serde(default = "tolerance")]
    pub tolerance: f64,
    /// Fixed sequence (0-7) for every trial (default: drawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<usize>,
}

/// The task.
pub struct Sequence {
    config: SequenceConfig,
    timing: TaskTiming,
}

impl Plugin for Sequence {
    type Kind = dyn Task;
    type Config = SequenceConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PyCog's eye-movement sequences (Averbeck & Lee 2007): 8 sequences of 3 moves, eye x/y outputs";

    fn build(config: SequenceConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Sequence::new(config, timing.clone())?))
    }
}

impl Sequence {
    /// Builds the task.
    ///
    /// # Errors
    /// [`psychrnn_core::Error::Invalid`] for a non-positive duration or tolerance, or a `T`
    /// shorter than a trial.
    pub fn new(config: SequenceConfig, timing: TaskTiming) -> Result<Self> {
        let c = &config;
        check_durations(&[
            ("iti", c.iti),
            ("fixation", c.fixation),
            ("movement", c.movement),
            ("tolerance", c.tolerance),
        ])?;
        check_fits(&timing, c.iti + c.fixation + 3.0 * c.movement)?;
        if let Some(k) = c.sequence
            && k >= SEQUENCES.len()
        {
            return Err(psychrnn_core::Error::invalid("sequence", format!("must be 0 to 7, got {k}")));
        }
        Ok(Sequence { config, timing })
    }
}

impl Task for Sequence {
    /// The 8 sequences, one condition each; no choice (the outputs are the eye's path):
    /// population analyses over the movements, from the first movement on (PyCog Fig 8).
    fn behaviour(&self) -> Option<Behaviour> {
        let conditions = (0..SEQUENCES.len())
            .map(|k| {
                let mut config = toml::Table::new();
                config.insert("sequence".into(), (k as i64).into());
                Condition {
                    config,
                    signed_stimulus: 0.0,
                    correct_choice: None,
                    group: format!("sequence {k} ({:?})", SEQUENCES[k]),
                    variables: Vec::new(),
                }
            })
            .collect();
        Some(Behaviour {
            conditions,
            stimulus_label: "sequence".into(),
            psychometric_variables: Vec::new(),
            readout: Readout::NoChoice,
            stimulus_period: Some(StimulusPeriod { onset: "M1".into(), end: StimulusEnd::TimeParam("end".into()) }),
            cue_combination: None,
        })
    }

    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        9 + SEQUENCES.len()
    }

    fn n_out(&self) -> usize {
        2
    }

    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams {
        let (c, dt) = (&self.config, self.timing.dt);
        let seq = rng.random_range(0..SEQUENCES.len());
        let seq = c.sequence.unwrap_or(seq);
        let path = [4, SEQUENCES[seq][0], SEQUENCES[seq][1], SEQUENCES[seq][2]];
        let timeline = Timeline::sequential(
            0.0,
            &[("iti", c.iti), ("fixation", c.fixation), ("M1", c.movement), ("M2", c.movement), ("M3", c.movement)],
        );
        let TrialMut { mut inputs, mut targets, mut mask, length } = trial;
        *length = n_steps(timeline.end(), dt).min(inputs.nrows());
        for s in 0..*length {
            inputs[[s, 9 + seq]] = 1.0;
        }
        for (k, epoch) in ["fixation", "M1", "M2", "M3"].into_iter().enumerate() {
            let (x, y) = position(path[k]);
            for s in timeline.steps(epoch, dt) {
                // Fixation shows the centre; each movement the current dot and its two targets.
                if k == 0 {
                    inputs[[s, 4]] = 1.0;
                } else {
                    let from = path[k - 1];
                    for dot in [from, options(from)[0], options(from)[1]] {
                        inputs[[s, dot]] = 1.0;
                    }
                }
                targets[[s, 0]] = x;
                targets[[s, 1]] = y;
                mask.row_mut(s).fill(1.0);
            }
        }
        let mut params = TrialParams::new();
        params.insert("seq".into(), (seq + 1).into());
        params.insert("dots".into(), path.iter().map(|&d| serde_json::Value::from(d)).collect());
        timeline.record(&mut params);
        params
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::fraction_within_rmse(batch, outputs, self.config.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, table};
    use super::*;

    #[test]
    fn every_sequence_is_a_legal_path_of_shown_targets() {
        for (seq, path) in SEQUENCES.iter().enumerate() {
            let mut from = 4;
            for &to in path {
                assert!(options(from).contains(&to), "sequence {} moves {from} -> {to}", seq + 1);
                from = to;
            }
        }
        assert_eq!(position(4), (0.0, 0.0));
        assert_eq!(position(0), (-0.5, 0.5));
        assert_eq!(position(8), (0.5, -0.5));
    }

    #[test]
    fn trials_show_dots_and_target_the_eye_positions() {
        let task = build(table("type = \"pycog_sequence\"\ndt = 10.0\ntau = 50.0\nT = 3500.0"));
        let batch = batch(task.as_ref(), 40);
        assert_eq!(batch.n_steps(), 350);
        for b in 0..40 {
            let p = &batch.trial_params[b];
            let seq = p["seq"].as_u64().unwrap() as usize - 1;
            let x = batch.inputs.slice(ndarray::s![.., b, ..]);
            assert!(x.column(9 + seq).iter().all(|&v| v == 1.0));
            assert_eq!(x.slice(ndarray::s![..100, ..9]).sum(), 0.0, "nothing but the sequence cue in the ITI");
            assert_eq!(batch.mask.slice(ndarray::s![..100, b, ..]).sum(), 0.0);
            assert_eq!(x.slice(ndarray::s![150, ..9]).sum(), 1.0);
            assert_eq!(x[[150, 4]], 1.0);
            let path = [4, SEQUENCES[seq][0], SEQUENCES[seq][1], SEQUENCES[seq][2]];
            for (k, step) in [(1, 220), (2, 270), (3, 320)] {
                assert_eq!(x.slice(ndarray::s![step, ..9]).sum(), 3.0);
                assert_eq!(x[[step, path[k - 1]]], 1.0);
                let (tx, ty) = position(path[k]);
                assert_eq!((batch.targets[[step, b, 0]], batch.targets[[step, b, 1]]), (tx, ty));
            }
        }
        // Perfect outputs are within tolerance; constant ones are not.
        assert_eq!(task.accuracy(&batch, batch.targets.view()), 1.0);
        assert_eq!(task.accuracy(&batch, ndarray::Array3::zeros(batch.targets.raw_dim()).view()), 0.0);
    }

    #[test]
    fn a_declared_condition_fixes_the_sequence() {
        let task = build(table("type = \"pycog_sequence\"\nT = 3500.0\nsequence = 6"));
        let batch = batch(task.as_ref(), 10);
        assert!(
            batch.trial_params.iter().all(|p| p["seq"].as_u64() == Some(7) && p.contains_key("M1")),
            "PyCog numbers sequences from 1"
        );
        let behaviour = task.behaviour().unwrap();
        assert_eq!((behaviour.conditions.len(), behaviour.readout), (8, Readout::NoChoice));
        assert!(
            super::super::test_support::try_build(table("type = \"pycog_sequence\"\nT = 3500.0\nsequence = 8"))
                .is_err()
        );
    }
}
