//! `pycog_multisensory`: PyCog's multisensory integration (Raposo et al. 2014), Fig 6 of Song
//! et al. 2016.
//!
//! Four inputs: visual and auditory event rate, each positively tuned (`0.5 + 0.6 (f - f_min) /
//! (f_max - f_min)`) and negatively tuned (`0.5 + 0.6 (f_max - f) / (f_max - f_min)`), in the
//! order visual+, auditory+, visual-, auditory-. Trials are visual, auditory or both (congruent
//! rates); rates are drawn from 6-19 events/s in training (PyCog widens the 9-16 of the
//! experiment so the psychometric curve is not saturated), and choice 1 means "above the
//! 12.5 events/s boundary". Fixation 100, stimulus 1000, decision 300 ms; catch trials (1 s)
//! with probability 1/(24 + 1).

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod, Timeline, blocks};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{HIGH, check_durations, check_fits, check_probability, draw_catch, finish_choice, set_input};

/// The registry tag.
pub const TAG: &str = "pycog_multisensory";
/// The modalities of a trial: visual, auditory, both.
pub const MODALITIES: [&str; 3] = ["v", "a", "va"];

fn stimulus() -> f64 {
    1000.0
}
fn boundary() -> f64 {
    12.5
}
fn rates() -> Vec<f64> {
    (6..=19).map(f64::from).collect()
}

/// `[task] type = "pycog_multisensory"` (durations in ms, rates in events/s).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultisensoryConfig {
    /// Fixation before the stimulus (PyCog: 100 in training, 500 at test).
    #[serde(default = "super::default_fixation")]
    pub fixation: f64,
    /// Stimulus duration.
    #[serde(default = "stimulus")]
    pub stimulus: f64,
    /// Decision epoch.
    #[serde(default = "super::default_decision")]
    pub decision: f64,
    /// Event rates drawn from (PyCog trains on 6-19; the experiment's are 9-16).
    #[serde(default = "rates")]
    pub rates: Vec<f64>,
    /// The category boundary (events/s): choice 1 when the rate is above it.
    #[serde(default = "boundary")]
    pub boundary: f64,
    /// Catch-trial probability (default 1 / (3 x 8 + 1), PyCog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_probability: Option<f64>,
    /// Duration of catch trials.
    #[serde(default = "super::default_catch_duration")]
    pub catch_duration: f64,
    /// Fixed modality for every non-catch trial: `v`, `a` or `va` (default: drawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// Fixed event rate for every non-catch trial (default: drawn from `rates`, whose range
    /// still sets the input tuning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// The task.
pub struct Multisensory {
    config: MultisensoryConfig,
    timing: TaskTiming,
    range: (f64, f64),
}

impl Plugin for Multisensory {
    type Kind = dyn Task;
    type Config = MultisensoryConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PyCog's multisensory integration (Raposo 2014): visual/auditory event rates above or below 12.5/s";

    fn build(config: MultisensoryConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Multisensory::new(config, timing.clone())?))
    }
}

impl Multisensory {
    /// Builds the task.
    ///
    /// # Errors
    /// [`Error::Invalid`] for fewer than two distinct rates, a non-positive duration, a
    /// probability outside [0, 1], or a `T` shorter than the longest trial.
    pub fn new(config: MultisensoryConfig, timing: TaskTiming) -> Result<Self> {
        if let Some(m) = &config.modality
            && !MODALITIES.contains(&m.as_str())
        {
            return Err(Error::invalid("modality", format!("must be one of v, a, va; got `{m}`")));
        }
        if let Some(r) = config.rate
            && !r.is_finite()
        {
            return Err(Error::invalid("rate", format!("must be finite, got {r}")));
        }
        let c = &config;
        check_durations(&[
            ("fixation", c.fixation),
            ("stimulus", c.stimulus),
            ("decision", c.decision),
            ("catch_duration", c.catch_duration),
        ])?;
        check_probability("catch_probability", c.catch_probability)?;
        let min = c.rates.iter().copied().fold(f64::INFINITY, f64::min);
        let max = c.rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !(min.is_finite() && max.is_finite() && max > min) {
            return Err(Error::invalid(
                "rates",
                format!("needs at least two distinct finite rates, got {:?}", c.rates),
            ));
        }
        check_fits(&timing, (c.fixation + c.stimulus + c.decision).max(c.catch_duration))?;
        Ok(Multisensory { config, timing, range: (min, max) })
    }

    /// The positively and negatively tuned inputs of rate `f`.
    pub fn tuned(&self, f: f64) -> (f64, f64) {
        let (min, max) = self.range;
        (0.5 + 0.6 * (f - min) / (max - min), 0.5 + 0.6 * (max - f) / (max - min))
    }
}

impl Task for Multisensory {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        4
    }

    fn n_out(&self) -> usize {
        2
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let (c, dt) = (&self.config, self.timing.dt);
        // PyCog's catch probability counts the experiment's 3 x 8 conditions.
        if let Some(catch) = draw_catch(rng, &mut trial, c.catch_probability, 3 * 8, c.catch_duration, dt) {
            return catch;
        }
        let drawn = MODALITIES[rng.random_range(0..MODALITIES.len())];
        let modality = c.modality.as_deref().unwrap_or(drawn);
        let rate = c.rates[rng.random_range(0..c.rates.len())];
        let rate = c.rate.unwrap_or(rate);
        let choice = usize::from(rate <= c.boundary);
        let timeline =
            Timeline::sequential(0.0, &[("fixation", c.fixation), ("stimulus", c.stimulus), ("decision", c.decision)]);
        let (pos, neg) = self.tuned(rate);
        for (sense, channel) in [('v', 0), ('a', 1)] {
            if modality.contains(sense) {
                set_input(&mut trial, &timeline, dt, "stimulus", channel, pos);
                set_input(&mut trial, &timeline, dt, "stimulus", channel + 2, neg);
            }
        }
        let mut params = TrialParams::new();
        params.insert("modality".into(), modality.into());
        params.insert("freq".into(), rate.into());
        finish_choice(&mut trial, &timeline, dt, choice, HIGH, params)
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::accuracy_at_end(batch, outputs)
    }

    /// The experiment's 9-16 events/s in each modality (visual, auditory, both; no catch
    /// trials), the choice at the end ("high" is output 0), curves per modality and the
    /// multisensory threshold against optimal cue combination (PyCog Fig 6B).
    fn behaviour(&self) -> Option<Behaviour> {
        let mut conditions = Vec::new();
        for (modality, group) in [("v", "visual"), ("a", "auditory"), ("va", "multisensory")] {
            for rate in (9..=16).map(f64::from) {
                let mut config = toml::Table::new();
                config.insert("modality".into(), modality.into());
                config.insert("rate".into(), rate.into());
                config.insert("catch_probability".into(), 0.0.into());
                conditions.push(Condition {
                    config,
                    signed_stimulus: rate,
                    correct_choice: Some(usize::from(rate <= self.config.boundary)),
                    group: group.into(),
                    variables: vec![("rate".into(), rate - self.config.boundary)],
                });
            }
        }
        Some(Behaviour {
            conditions,
            stimulus_label: "event rate (events/s)".into(),
            psychometric_variables: Vec::new(),
            readout: Readout::AtEnd,
            stimulus_period: Some(StimulusPeriod {
                onset: "stimulus".into(),
                end: StimulusEnd::TimeParam("decision".into()),
            }),
            cue_combination: Some(["visual".into(), "auditory".into(), "multisensory".into()]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, is_catch, num, table};

    #[test]
    fn modalities_carry_congruent_tuned_rates() {
        let task = build(table("type = \"pycog_multisensory\"\nT = 1400.0"));
        let batch = batch(task.as_ref(), 300);
        let mut modalities = std::collections::BTreeSet::new();
        for b in (0..300).filter(|&b| !is_catch(&batch, b)) {
            let p = &batch.trial_params[b];
            let (f, modality) = (num(p, "freq"), p["modality"].as_str().unwrap().to_string());
            assert!((6.0..=19.0).contains(&f));
            assert_eq!(p["choice"].as_u64().unwrap(), u64::from(f < 12.5));
            let x = batch.inputs.slice(ndarray::s![20usize, b, ..]);
            let pos = 0.5 + 0.6 * (f - 6.0) / 13.0;
            let neg = 0.5 + 0.6 * (19.0 - f) / 13.0;
            let v = modality.contains('v');
            let a = modality.contains('a');
            assert_eq!(x[0usize], if v { pos as f32 } else { 0.0 });
            assert_eq!(x[2usize], if v { neg as f32 } else { 0.0 });
            assert_eq!(x[1usize], if a { pos as f32 } else { 0.0 });
            assert_eq!(x[3usize], if a { neg as f32 } else { 0.0 });
            modalities.insert(modality);
        }
        assert_eq!(modalities.len(), 3);
    }

    #[test]
    fn a_declared_condition_fixes_modality_and_rate() {
        let task = build(table(
            "type = \"pycog_multisensory\"\nT = 1400.0\nmodality = \"a\"\nrate = 11.0\ncatch_probability = 0.0",
        ));
        let batch = batch(task.as_ref(), 30);
        for p in &batch.trial_params {
            assert_eq!((p["modality"].as_str(), num(p, "freq"), p["choice"].as_u64()), (Some("a"), 11.0, Some(1)));
        }
        let behaviour = task.behaviour().unwrap();
        assert_eq!(behaviour.conditions.len(), 24);
        assert_eq!(behaviour.cue_combination.as_ref().map(|c| c[2].as_str()), Some("multisensory"));
        let bad =
            super::super::test_support::try_build(table("type = \"pycog_multisensory\"\nT = 1400.0\nmodality = \"x\""));
        assert!(bad.err().unwrap().contains("modality: must be one of v, a, va"));
    }
}
