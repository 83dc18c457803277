//! How a task's behaviour is analysed (`psychrnn analyze`): the grid of conditions to sweep, how
//! a choice (and a reaction time) is read from a trial's outputs, and when the stimulus is on.
//!
//! A condition is a set of keys of the task's own configuration that fix its random draws (e.g.
//! `coherence = 0.1`, `direction = 0`): the analysis builds the task with them and generates as
//! many trials of it as asked. Choice 1 is output channel 0 (PyCog's convention).

/// A task's declaration for behavioural analyses ([`crate::Task::behaviour`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    /// The conditions to sweep, in plotting order.
    pub conditions: Vec<Condition>,
    /// What the signed stimulus is, with its unit, for axis labels (e.g. `signed coherence`).
    pub stimulus_label: String,
    /// Condition variables to draw psychometric curves against, one set of curves (one per
    /// group) for each (e.g. motion and colour coherence in both contexts, PyCog Fig 4A); empty:
    /// against the signed stimulus.
    pub psychometric_variables: Vec<String>,
    /// How a choice is read from a trial's outputs.
    pub readout: Readout,
    /// The trial parameters (ms) giving the stimulus period, for unit selectivity.
    pub stimulus_period: Option<StimulusPeriod>,
    /// Groups to compare with optimal cue combination (two single cues, then both; e.g.
    /// visual, auditory, multisensory): the psychometric analysis then reports the combined
    /// sigma against `1 / sigma^2 = 1 / sigma_1^2 + 1 / sigma_2^2` (PyCog Fig 6).
    pub cue_combination: Option<[String; 3]>,
}

/// One condition of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Keys of the task's configuration that fix this condition (merged into its table).
    pub config: toml::Table,
    /// The signed stimulus of psychometric curves: positive values are evidence for choice 1
    /// (output channel 0).
    pub signed_stimulus: f64,
    /// The correct choice (output channel), `None` where no choice is correct (zero evidence).
    pub correct_choice: Option<usize>,
    /// The curve it belongs to (e.g. a context); empty for a single curve.
    pub group: String,
    /// The task variables of this condition for the regression analysis (e.g. `("coherence",
    /// 0.16)`, `("context", 1.0)`), besides the choice, which the analysis reads from the outputs.
    pub variables: Vec<(String, f64)>,
}

/// How a choice is read from one trial's outputs `[time, outputs]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Readout {
    /// The task asks for no choice (e.g. it produces a trajectory): the analyses of choices
    /// are refused, those of population activity run.
    NoChoice,
    /// PsychRNN's: the output with the largest mean over the steps where the loss mask is on.
    /// No reaction time.
    MaskedMean,
    /// PyCog's variable-stimulus readout: the output that is largest at the trial's last step.
    /// No reaction time.
    AtEnd,
    /// PyCog's reaction-time readout: the first output to reach `threshold` at or after the
    /// stimulus onset is the choice, and the time since onset is the reaction time.
    Threshold {
        /// The output level that counts as a decision.
        threshold: f64,
    },
}

/// Where the stimulus is in a trial: the trial parameter (ms) of its onset, and its end.
#[derive(Clone, Debug, PartialEq)]
pub struct StimulusPeriod {
    /// The trial parameter holding the onset time (ms).
    pub onset: String,
    /// Where it ends.
    pub end: StimulusEnd,
}

/// How a trial's stimulus period ends.
#[derive(Clone, Debug, PartialEq)]
pub enum StimulusEnd {
    /// After the duration (ms) in this trial parameter.
    DurationParam(String),
    /// At the time (ms) in this trial parameter.
    TimeParam(String),
    /// After this fixed duration (ms).
    Duration(f64),
}

impl StimulusPeriod {
    /// The stimulus period of a trial: `(onset, end)` in ms, from its parameters; `None` if they
    /// are missing (e.g. a catch trial).
    pub fn of(&self, params: &crate::TrialParams) -> Option<(f64, f64)> {
        let onset = params.get(&self.onset)?.as_f64()?;
        let end = match &self.end {
            StimulusEnd::DurationParam(key) => onset + params.get(key)?.as_f64()?,
            StimulusEnd::TimeParam(key) => params.get(key)?.as_f64()?,
            StimulusEnd::Duration(ms) => onset + ms,
        };
        Some((onset, end))
    }
}
