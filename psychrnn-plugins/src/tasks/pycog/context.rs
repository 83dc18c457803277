//! `pycog_context`: PyCog's context-dependent integration (Mante et al. 2013), Fig 4 of Song et
//! al. 2016.
//!
//! Six inputs: two context cues (motion, colour; 1 during the stimulus), then motion evidence
//! for choices 1 and 2, then colour evidence for choices 1 and 2 (`(1 +/- 5 coh / 100) / 2`).
//! Conditions: context x motion coherence {1, 3, 10} x colour coherence x both directions (72);
//! the correct choice follows the direction of the cued modality. Fixation 100, stimulus 800,
//! decision 300 ms; catch trials (1 s) with probability 1/73.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod, Timeline, blocks};
use psychrnn_core::{Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{
    HIGH, check_durations, check_fits, check_probability, coherence_input, draw_catch, finish_choice, set_input,
};

/// The registry tag.
pub const TAG: &str = "pycog_context";
/// PyCog's coherences (%), for motion and colour alike.
pub const COHERENCES: [f64; 3] = [1.0, 3.0, 10.0];
/// PyCog's `SCALE` of coherence into input.
pub const SCALE: f64 = 5.0;
/// Number of conditions: 2 contexts x (3 coherences x 2 directions)^2.
pub const N_CONDITIONS: usize = 72;

fn stimulus() -> f64 {
    800.0
}

/// `[task] type = "pycog_context"` (durations in ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    /// Fixation before the stimulus (PyCog: 100 in training, 300 at test).
    #[serde(default = "super::default_fixation")]
    pub fixation: f64,
    /// Stimulus duration.
    #[serde(default = "stimulus")]
    pub stimulus: f64,
    /// Decision epoch.
    #[serde(default = "super::default_decision")]
    pub decision: f64,
    /// Catch-trial probability (default 1 / (72 + 1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_probability: Option<f64>,
    /// Duration of catch trials.
    #[serde(default = "super::default_catch_duration")]
    pub catch_duration: f64,
    /// Fixed context for every non-catch trial (default: drawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextCue>,
    /// Fixed signed motion coherence (%) for every non-catch trial: positive is evidence for
    /// output 0 (default: drawn from PyCog's, both directions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<f64>,
    /// Fixed signed colour coherence (%), likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<f64>,
}

/// Which feature the context cue makes relevant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContextCue {
    /// Motion decides.
    Motion,
    /// Colour decides.
    Colour,
}

/// The task.
pub struct Context {
    config: ContextConfig,
    timing: TaskTiming,
}

impl Plugin for Context {
    type Kind = dyn Task;
    type Config = ContextConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PyCog's context-dependent integration (Mante 2013): motion and colour, a context cue picks one";

    fn build(config: ContextConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Context::new(config, timing.clone())?))
    }
}

impl Context {
    /// Builds the task.
    ///
    /// # Errors
    /// [`psychrnn_core::Error::Invalid`] for a non-positive duration, a probability outside
    /// [0, 1], or a `T` shorter than the longest trial.
    pub fn new(config: ContextConfig, timing: TaskTiming) -> Result<Self> {
        let c = &config;
        check_durations(&[
            ("fixation", c.fixation),
            ("stimulus", c.stimulus),
            ("decision", c.decision),
            ("catch_duration", c.catch_duration),
        ])?;
        check_probability("catch_probability", c.catch_probability)?;
        for (field, v) in [("motion", c.motion), ("colour", c.colour)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(psychrnn_core::Error::invalid(field, format!("must be finite, got {v}")));
            }
        }
        check_fits(&timing, (c.fixation + c.stimulus + c.decision).max(c.catch_duration))?;
        Ok(Context { config, timing })
    }
}

impl Task for Context {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        6
    }

    fn n_out(&self) -> usize {
        2
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let (c, dt) = (&self.config, self.timing.dt);
        if let Some(catch) = draw_catch(rng, &mut trial, c.catch_probability, N_CONDITIONS, c.catch_duration, dt) {
            return catch;
        }
        // Draw everything, then apply the fixed values (the draws of training stay the same).
        let motion_context = rng.random::<bool>();
        let motion_context = c.context.map_or(motion_context, |cue| cue == ContextCue::Motion);
        let mut pick = || COHERENCES[rng.random_range(0..COHERENCES.len())];
        let (coh_m, coh_c) = (pick(), pick());
        let mut direction = || -> i64 { if rng.random::<bool>() { 1 } else { -1 } };
        let (left_right_m, left_right_c) = (direction(), direction());
        let fixed =
            |signed: Option<f64>, drawn: (f64, i64)| signed.map_or(drawn, |s| (s.abs(), if s < 0.0 { -1 } else { 1 }));
        let (coh_m, left_right_m) = fixed(c.motion, (coh_m, left_right_m));
        let (coh_c, left_right_c) = fixed(c.colour, (coh_c, left_right_c));
        let relevant = if motion_context { left_right_m } else { left_right_c };
        let choice = usize::from(relevant < 0);
        let timeline =
            Timeline::sequential(0.0, &[("fixation", c.fixation), ("stimulus", c.stimulus), ("decision", c.decision)]);
        set_input(&mut trial, &timeline, dt, "stimulus", usize::from(!motion_context), 1.0);
        for (first, coh, lr) in [(2, coh_m, left_right_m), (4, coh_c, left_right_c)] {
            let toward = usize::from(lr < 0);
            set_input(&mut trial, &timeline, dt, "stimulus", first + toward, coherence_input(SCALE, coh));
            set_input(&mut trial, &timeline, dt, "stimulus", first + 1 - toward, coherence_input(SCALE, -coh));
        }
        let mut params = TrialParams::new();
        params.insert("context".into(), (if motion_context { "m" } else { "c" }).into());
        params.insert("coh_m".into(), coh_m.into());
        params.insert("left_right_m".into(), left_right_m.into());
        params.insert("coh_c".into(), coh_c.into());
        params.insert("left_right_c".into(), left_right_c.into());
        finish_choice(&mut trial, &timeline, dt, choice, HIGH, params)
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::accuracy_at_end(batch, outputs)
    }

    /// PyCog's 72 conditions (context x signed motion x signed colour coherence, no catch
    /// trials), the choice at the trial's end; psychometric curves against motion and against
    /// colour in each context (PyCog Fig 4A); regression on choice, motion, colour and context.
    fn behaviour(&self) -> Option<Behaviour> {
        let signed: Vec<f64> = COHERENCES.iter().rev().map(|c| -c).chain(COHERENCES).collect();
        let mut conditions = Vec::new();
        for (cue, name, context_value) in
            [(ContextCue::Motion, "motion context", 1.0), (ContextCue::Colour, "colour context", -1.0)]
        {
            for &m in &signed {
                for &col in &signed {
                    let mut config = toml::Table::new();
                    config
                        .insert("context".into(), (if cue == ContextCue::Motion { "motion" } else { "colour" }).into());
                    config.insert("motion".into(), m.into());
                    config.insert("colour".into(), col.into());
                    config.insert("catch_probability".into(), 0.0.into());
                    let relevant = if cue == ContextCue::Motion { m } else { col };
                    conditions.push(Condition {
                        config,
                        signed_stimulus: relevant,
                        correct_choice: Some(usize::from(relevant < 0.0)),
                        group: name.into(),
                        variables: vec![
                            ("motion".into(), m),
                            ("colour".into(), col),
                            ("context".into(), context_value),
                        ],
                    });
                }
            }
        }
        Some(Behaviour {
            conditions,
            stimulus_label: "signed coherence of the relevant feature (%)".into(),
            psychometric_variables: vec!["motion".into(), "colour".into()],
            readout: Readout::AtEnd,
            stimulus_period: Some(StimulusPeriod {
                onset: "stimulus".into(),
                end: StimulusEnd::TimeParam("decision".into()),
            }),
            cue_combination: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, is_catch, num, table};
    use super::super::{HIGH, LOW};
    use super::*;

    #[test]
    fn the_cued_modality_decides_and_cues_last_the_stimulus() {
        let task = build(table("type = \"pycog_context\"\nT = 1200.0"));
        let batch = batch(task.as_ref(), 300);
        let mut seen = std::collections::BTreeSet::new();
        for b in (0..300).filter(|&b| !is_catch(&batch, b)) {
            let p = &batch.trial_params[b];
            let x = batch.inputs.slice(ndarray::s![.., b, ..]);
            let motion = p["context"] == "m";
            let lr = if motion { p["left_right_m"].as_i64() } else { p["left_right_c"].as_i64() }.unwrap();
            let choice = p["choice"].as_u64().unwrap() as usize;
            assert_eq!(choice, usize::from(lr < 0));
            seen.insert((
                p["context"].to_string(),
                num(p, "coh_m") as i64,
                num(p, "coh_c") as i64,
                p["left_right_m"].to_string(),
                p["left_right_c"].to_string(),
            ));
            // Stimulus: steps 5..45 (100..900 ms at dt 20); the cue of the context only then.
            assert_eq!(x[[10, usize::from(!motion)]], 1.0);
            assert_eq!(x[[10, usize::from(motion)]], 0.0);
            assert!(
                x.slice(ndarray::s![..5, ..]).iter().chain(x.slice(ndarray::s![45.., ..]).iter()).all(|&v| v == 0.0)
            );
            let toward_m = 2 + usize::from(p["left_right_m"].as_i64().unwrap() < 0);
            assert_eq!(x[[10, toward_m]], coherence_input(SCALE, num(p, "coh_m")) as f32);
            let toward_c = 4 + usize::from(p["left_right_c"].as_i64().unwrap() < 0);
            assert_eq!(x[[10, toward_c]], coherence_input(SCALE, num(p, "coh_c")) as f32);
            assert_eq!(batch.lengths[b], 60);
            assert_eq!((batch.targets[[59, b, choice]], batch.targets[[59, b, 1 - choice]]), (HIGH, LOW));
        }
        assert!(seen.len() > 60, "most of the 72 conditions appear ({} did)", seen.len());
    }

    #[test]
    fn a_declared_condition_fixes_every_trial() {
        let task = build(table(
            "type = \"pycog_context\"\nT = 1200.0\ncontext = \"colour\"\nmotion = -3.0\ncolour = 10.0\ncatch_probability = 0.0",
        ));
        let batch = batch(task.as_ref(), 40);
        for p in &batch.trial_params {
            assert_eq!(
                (p["context"].as_str(), num(p, "coh_m"), p["left_right_m"].as_i64()),
                (Some("c"), 3.0, Some(-1))
            );
            assert_eq!((num(p, "coh_c"), p["left_right_c"].as_i64(), p["choice"].as_u64()), (10.0, Some(1), Some(0)));
        }
        let behaviour = task.behaviour().unwrap();
        assert_eq!(behaviour.conditions.len(), N_CONDITIONS);
        let c = &behaviour.conditions[40];
        assert_eq!(c.group, "colour context");
        assert_eq!(c.correct_choice, Some(usize::from(c.signed_stimulus < 0.0)));
        assert_eq!(c.signed_stimulus, c.variables[1].1, "the colour context's relevant feature is colour");
    }
}
