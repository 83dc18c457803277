//! `pycog_rdm`: PyCog's perceptual decision making (random-dot motion), Fig 2 of Song et al.
//! 2016, in its two versions.
//!
//! Inputs: evidence for choice 1, evidence for choice 2 (`(1 +/- 3.2 coh / 100) / 2` on the
//! channel of the correct / other choice during the stimulus), and a start cue (1 from the
//! stimulus onset to the end). Conditions: coherence in {1, 2, 4, 8, 16} % times direction
//! +/-1 (10 conditions), catch trials (1 s, no input) with probability 1/11.
//!
//! - `variable_stimulus` (Kiani et al. 2008): fixation 100 ms, stimulus truncated-exponential
//!   (mean 330, 80-1500 ms), decision 300 ms.
//! - `reaction_time` (Roitman & Shadlen 2002): fixation 100 ms, then the stimulus until the
//!   end (1000 ms); the decision epoch starts 300 ms after stimulus onset, so the network may
//!   answer early. The reaction time is when an output first crosses a threshold
//!   ([`reaction_times`]). As in PyCog's `rdm_rt.py`, the chosen output's target is 1.2
//!   (`high`), so that a trained network crosses the analysis threshold of 1 (the paper's
//!   text of Fig 2); the variable-stimulus version's target is PyCog's usual 1.0.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod, Timeline, blocks};
use psychrnn_core::{Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{
    check_durations, check_fits, check_probability, coherence_input, draw_catch, finish_choice, set_input,
    truncated_exponential,
};

/// The registry tag.
pub const TAG: &str = "pycog_rdm";
/// PyCog's coherences (%).
pub const COHERENCES: [f64; 5] = [1.0, 2.0, 4.0, 8.0, 16.0];
/// PyCog's `SCALE` of coherence into input.
pub const SCALE: f64 = 3.2;

/// Which version of the task.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Version {
    /// Fixed-duration ("variable stimulus") version.
    #[default]
    VariableStimulus,
    /// Reaction-time version.
    ReactionTime,
}

fn stimulus_mean() -> f64 {
    330.0
}
fn stimulus_min() -> f64 {
    80.0
}
fn stimulus_max() -> f64 {
    1500.0
}
fn rt_stimulus() -> f64 {
    1000.0
}

/// `[task] type = "pycog_rdm"` (durations in ms; defaults are PyCog's training values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdmConfig {
    /// `variable_stimulus` or `reaction_time`.
    #[serde(default)]
    pub version: Version,
    /// Fixation before the stimulus (PyCog: 100 in training, 300 at test).
    #[serde(default = "super::default_fixation")]
    pub fixation: f64,
    /// Variable-stimulus version: mean of the truncated exponential stimulus duration.
    #[serde(default = "stimulus_mean")]
    pub stimulus_mean: f64,
    /// Variable-stimulus version: shortest stimulus.
    #[serde(default = "stimulus_min")]
    pub stimulus_min: f64,
    /// Variable-stimulus version: longest stimulus (exclusive).
    #[serde(default = "stimulus_max")]
    pub stimulus_max: f64,
    /// Reaction-time version: stimulus duration (PyCog: 1000 in training, 1500 at test).
    #[serde(default = "rt_stimulus")]
    pub rt_stimulus: f64,
    /// Variable-stimulus version: the decision epoch after the stimulus; reaction-time version:
    /// the unrewarded time after stimulus onset before the decision epoch starts.
    #[serde(default = "super::default_decision")]
    pub decision: f64,
    /// Catch-trial probability (default 1 / (10 + 1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_probability: Option<f64>,
    /// Duration of catch trials.
    #[serde(default = "super::default_catch_duration")]
    pub catch_duration: f64,
    /// Fixed coherence (%) for every non-catch trial (default: drawn from PyCog's five).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coherence: Option<f64>,
    /// Fixed direction for every non-catch trial: +1 (evidence for output 0) or -1 (for
    /// output 1) (default: drawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_out: Option<i64>,
    /// Target of the chosen output during the decision epoch (default: PyCog's, 1.0 for the
    /// variable-stimulus version and 1.2 for the reaction-time version, whose reaction time
    /// is the first crossing of 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

impl RdmConfig {
    /// The chosen output's target: `high`, else PyCog's default for the version.
    pub fn high_target(&self) -> f64 {
        self.high.unwrap_or(match self.version {
            Version::VariableStimulus => f64::from(super::HIGH),
            Version::ReactionTime => RT_HIGH,
        })
    }
}

/// PyCog's target of the chosen output in the reaction-time version (`rdm_rt.py`: `hi = 1.2`).
pub const RT_HIGH: f64 = 1.2;

/// The task.
pub struct Rdm {
    config: RdmConfig,
    timing: TaskTiming,
}

impl Plugin for Rdm {
    type Kind = dyn Task;
    type Config = RdmConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PyCog's perceptual decision making: variable stimulus duration or reaction time, catch trials";

    fn build(config: RdmConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Rdm::new(config, timing.clone())?))
    }
}

impl Rdm {
    /// Builds the task.
    ///
    /// # Errors
    /// [`psychrnn_core::Error::Invalid`] for a non-positive duration, a probability outside
    /// [0, 1], or a `T` shorter than the longest trial.
    pub fn new(config: RdmConfig, timing: TaskTiming) -> Result<Self> {
        let c = &config;
        check_durations(&[
            ("fixation", c.fixation),
            ("stimulus_mean", c.stimulus_mean),
            ("stimulus_max", c.stimulus_max),
            ("rt_stimulus", c.rt_stimulus),
            ("decision", c.decision),
            ("catch_duration", c.catch_duration),
        ])?;
        check_probability("catch_probability", c.catch_probability)?;
        if let Some(d) = c.in_out
            && d != 1
            && d != -1
        {
            return Err(psychrnn_core::Error::invalid("in_out", format!("must be 1 or -1, got {d}")));
        }
        if let Some(coh) = c.coherence
            && !coh.is_finite()
        {
            return Err(psychrnn_core::Error::invalid("coherence", format!("must be finite, got {coh}")));
        }
        if let Some(high) = c.high
            && !(high.is_finite() && high > f64::from(super::LOW))
        {
            return Err(psychrnn_core::Error::invalid(
                "high",
                format!("must be a finite target above the low target {}, got {high}", super::LOW),
            ));
        }
        let longest = match c.version {
            Version::VariableStimulus => c.fixation + c.stimulus_max + c.decision,
            Version::ReactionTime => c.fixation + c.rt_stimulus,
        };
        check_fits(&timing, longest.max(c.catch_duration))?;
        Ok(Rdm { config, timing })
    }

    fn timeline(&self, rng: &mut Rng) -> Timeline {
        let (c, dt) = (&self.config, self.timing.dt);
        match c.version {
            Version::VariableStimulus => {
                let stimulus = truncated_exponential(rng, dt, c.stimulus_mean, c.stimulus_min, c.stimulus_max);
                Timeline::sequential(0.0, &[("fixation", c.fixation), ("stimulus", stimulus), ("decision", c.decision)])
            }
            Version::ReactionTime => {
                let mut t = Timeline::sequential(0.0, &[("fixation", c.fixation), ("stimulus", c.rt_stimulus)]);
                t.push("decision", c.fixation + c.decision, c.fixation + c.rt_stimulus);
                t
            }
        }
    }
}

impl Task for Rdm {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        3
    }

    fn n_out(&self) -> usize {
        2
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let (c, dt) = (&self.config, self.timing.dt);
        if let Some(catch) =
            draw_catch(rng, &mut trial, c.catch_probability, 2 * COHERENCES.len(), c.catch_duration, dt)
        {
            return catch;
        }
        let coherence = c.coherence.unwrap_or_else(|| COHERENCES[rng.random_range(0..COHERENCES.len())]);
        let drawn: i64 = if rng.random::<bool>() { 1 } else { -1 };
        let in_out = c.in_out.unwrap_or(drawn);
        let choice = usize::from(in_out < 0);
        let timeline = self.timeline(rng);
        set_input(&mut trial, &timeline, dt, "stimulus", choice, coherence_input(SCALE, coherence));
        set_input(&mut trial, &timeline, dt, "stimulus", 1 - choice, coherence_input(SCALE, -coherence));
        let cue_end = timeline.steps("decision", dt).end;
        for s in timeline.steps("stimulus", dt).start..cue_end {
            trial.inputs[[s, 2]] = 1.0;
        }
        let mut params = TrialParams::new();
        params.insert("coh".into(), coherence.into());
        params.insert("in_out".into(), in_out.into());
        finish_choice(&mut trial, &timeline, dt, choice, c.high_target() as f32, params)
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::accuracy_at_end(batch, outputs)
    }

    /// Signed coherence (%) from -16 to 16 without catch trials; the choice at the trial's end
    /// (variable stimulus) or the first output to reach 1 after stimulus onset, with its
    /// reaction time (reaction time; PyCog's analysis).
    fn behaviour(&self) -> Option<Behaviour> {
        let mut conditions = Vec::new();
        for in_out in [1i64, -1] {
            for coherence in ANALYSIS_COHERENCES {
                let mut config = toml::Table::new();
                config.insert("coherence".into(), coherence.into());
                config.insert("in_out".into(), in_out.into());
                config.insert("catch_probability".into(), 0.0.into());
                let correct_choice = (coherence > 0.0).then_some(usize::from(in_out < 0));
                let signed_stimulus = in_out as f64 * coherence;
                conditions.push(Condition {
                    config,
                    signed_stimulus,
                    correct_choice,
                    group: String::new(),
                    variables: vec![("coherence".into(), signed_stimulus)],
                });
            }
        }
        let (readout, end) = match self.config.version {
            Version::VariableStimulus => (Readout::AtEnd, StimulusEnd::TimeParam("decision".into())),
            Version::ReactionTime => {
                (Readout::Threshold { threshold: 1.0 }, StimulusEnd::Duration(self.config.rt_stimulus))
            }
        };
        Some(Behaviour {
            conditions,
            stimulus_label: "signed coherence (%)".into(),
            psychometric_variables: Vec::new(),
            readout,
            stimulus_period: Some(StimulusPeriod { onset: "stimulus".into(), end }),
            cue_combination: None,
        })
    }
}

/// The coherences (%) `psychrnn analyze` sweeps in each direction (PyCog's five and zero).
pub const ANALYSIS_COHERENCES: [f64; 6] = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0];

/// Reaction times (ms after stimulus onset) of the trials of a `pycog_rdm` batch: when either
/// output first reaches `threshold` (PyCog's analysis uses 1, the training target being 1).
/// `None` for catch trials and trials that never reach it.
pub fn reaction_times(batch: &TrialBatch, outputs: ArrayView3<'_, f32>, dt: f64, threshold: f32) -> Vec<Option<f64>> {
    (0..batch.n_trials())
        .map(|b| {
            let onset = batch.trial_params[b].get("stimulus")?.as_f64()?;
            let first = (onset / dt).round() as usize;
            (first..batch.lengths[b])
                .find(|&s| outputs.slice(ndarray::s![s, b, ..]).iter().any(|&z| z >= threshold))
                .map(|s| (s + 1) as f64 * dt - onset)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, is_catch, num, table};
    use super::super::{HIGH, LOW};
    use super::*;

    #[test]
    fn variable_stimulus_trials_follow_pycog() {
        let task = build(table("type = \"pycog_rdm\"\nT = 1900.0"));
        let batch = batch(task.as_ref(), 400);
        let catches = (0..400).filter(|&b| is_catch(&batch, b)).count();
        assert!((15..65).contains(&catches), "{catches} catch trials, expected about 36");
        let mut lengths = std::collections::BTreeSet::new();
        for b in 0..400 {
            let (x, y, m) = (
                batch.inputs.slice(ndarray::s![.., b, ..]),
                batch.targets.slice(ndarray::s![.., b, ..]),
                batch.mask.slice(ndarray::s![.., b, ..]),
            );
            let len = batch.lengths[b];
            assert!(m.slice(ndarray::s![len.., ..]).iter().all(|&v| v == 0.0), "padding is masked out");
            if is_catch(&batch, b) {
                assert_eq!(len, 50);
                assert!(x.iter().all(|&v| v == 0.0));
                assert!(y.slice(ndarray::s![..len, ..]).iter().all(|&v| v == LOW));
                continue;
            }
            let p = &batch.trial_params[b];
            let (coh, choice) = (num(p, "coh"), p["choice"].as_u64().unwrap() as usize);
            assert!(COHERENCES.contains(&coh));
            assert_eq!(choice == 0, p["in_out"] == 1);
            let (stim, dec) = ((num(p, "stimulus") / 20.0) as usize, (num(p, "decision") / 20.0) as usize);
            assert_eq!(stim, 5, "fixation is 100 ms");
            let stim_len = dec - stim;
            assert!((4..75).contains(&stim_len));
            assert_eq!(len, dec + 15, "decision lasts 300 ms");
            lengths.insert(len);
            for s in 0..len {
                let in_stim = (stim..dec).contains(&s);
                let hi = coherence_input(SCALE, coh) as f32;
                let lo = coherence_input(SCALE, -coh) as f32;
                assert_eq!(x[[s, choice]], if in_stim { hi } else { 0.0 });
                assert_eq!(x[[s, 1 - choice]], if in_stim { lo } else { 0.0 });
                assert_eq!(x[[s, 2]], if s >= stim { 1.0 } else { 0.0 }, "start cue");
                let masked = s < stim || s >= dec;
                assert_eq!(m[[s, 0]], if masked { 1.0 } else { 0.0 });
                if s >= dec {
                    assert_eq!((y[[s, choice]], y[[s, 1 - choice]]), (HIGH, LOW));
                } else if s < stim {
                    assert_eq!((y[[s, 0]], y[[s, 1]]), (LOW, LOW));
                }
            }
        }
        assert!(lengths.len() > 10, "stimulus durations vary");
        assert_eq!(batch.n_steps(), *lengths.iter().max().unwrap().max(&50), "cut to the longest trial");
    }

    #[test]
    fn reaction_time_version_rewards_only_after_300_ms_and_reads_a_threshold() {
        let task = build(table("type = \"pycog_rdm\"\nversion = \"reaction_time\"\nT = 1100.0"));
        let batch = batch(task.as_ref(), 50);
        let b = (0..50).find(|&b| !is_catch(&batch, b)).unwrap();
        let p = &batch.trial_params[b];
        assert_eq!((num(p, "stimulus"), num(p, "decision"), num(p, "end")), (100.0, 400.0, 1100.0));
        let m = batch.mask.slice(ndarray::s![.., b, 0]);
        assert!(m.iter().take(5).all(|&v| v == 1.0) && m.iter().skip(5).take(15).all(|&v| v == 0.0));
        assert!(m.iter().skip(20).all(|&v| v == 1.0));
        assert!(batch.inputs.slice(ndarray::s![5.., b, 2]).iter().all(|&v| v == 1.0), "cue to the end");
        let choice = usize::from(p["in_out"] == -1);
        let decision = batch.targets.slice(ndarray::s![20.., b, ..]);
        assert!(decision.rows().into_iter().all(|y| y[choice] == 1.2 && y[1 - choice] == LOW), "rdm_rt.py: hi = 1.2");
        // An output crossing 1 at step 14 (t = 300 ms) gives a reaction time of 200 ms.
        let mut out = ndarray::Array3::<f32>::zeros(batch.targets.raw_dim());
        out[[14, b, 1]] = 1.0;
        let rts = reaction_times(&batch, out.view(), 20.0, 1.0);
        assert_eq!(rts[b], Some(200.0));
        assert!((0..50).filter(|&c| is_catch(&batch, c)).all(|c| rts[c].is_none()));
    }

    #[test]
    fn the_high_target_can_be_set_and_is_checked() {
        let task = build(table("type = \"pycog_rdm\"\nversion = \"reaction_time\"\nT = 1100.0\nhigh = 1.5"));
        let rt_batch = batch(task.as_ref(), 50);
        let b = (0..50).find(|&b| !is_catch(&rt_batch, b)).unwrap();
        let choice = usize::from(rt_batch.trial_params[b]["in_out"] == -1);
        assert_eq!(rt_batch.targets[[30, b, choice]], 1.5);
        let variable = build(table("type = \"pycog_rdm\"\nT = 1900.0"));
        let variable_batch = batch(variable.as_ref(), 50);
        assert_eq!(variable_batch.targets.iter().fold(0.0f32, |a, &v| a.max(v)), HIGH, "variable stimulus keeps 1.0");
        let registry = crate::registry().unwrap();
        for bad in ["0.1", "nan"] {
            let t =
                table(&format!("type = \"pycog_rdm\"\ndt = 20.0\ntau = 100.0\nN_batch = 4\nT = 1900.0\nhigh = {bad}"));
            let err =
                psychrnn_train::experiment::task_from_table(&t, &registry, std::path::Path::new(".")).err().unwrap();
            assert!(err.to_string().contains("high"), "{err}");
        }
    }

    #[test]
    fn a_too_short_t_is_named() {
        let registry = crate::registry().unwrap();
        let t = table("type = \"pycog_rdm\"\ndt = 20.0\ntau = 100.0\nT = 1000.0\nN_batch = 4");
        let err = psychrnn_train::experiment::task_from_table(&t, &registry, std::path::Path::new(".")).err().unwrap();
        assert_eq!(err.to_string(), "task.T: must be at least 1900 ms, the longest trial of this task, got 1000");
    }
}
