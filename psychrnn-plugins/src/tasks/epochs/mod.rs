//! `epochs`: a task written entirely in the manifest. A trial draws its conditions (from lists
//! or uniform ranges) and whether it is a catch trial, then runs through named epochs of fixed,
//! uniform, chosen or truncated-exponential duration; in each epoch every input channel, target
//! channel and the loss mask take a number or an expression of the conditions and time.
//!
//! PsychRNN's perceptual discrimination, written this way (the test in `tests.rs` checks that
//! both produce trials with the same distribution):
//! ```toml
//! [task]
//! type = "epochs"
//! T = 2000
//! inputs = ["left", "right"]
//! outputs = ["left", "right"]
//! stim_noise = 0.1
//! conditions = { coherence = [0.1, 0.3, 0.5, 0.7], direction = [0, 1] }
//! epoch = [
//!   { name = "onset", duration = { uniform = [0, 1000] } },
//!   { name = "stimulus", duration = { uniform = [250, 750] }, inputs = {
//!       left = "1 + coherence * (direction == 0)", right = "1 + coherence * (direction == 1)" } },
//!   { name = "wait", duration = 20, mask = 1 },
//!   { name = "response", duration = "rest", mask = 1, targets = {
//!       left = "if(direction == 0, 1, 0.2)", right = "if(direction == 1, 1, 0.2)" } },
//! ]
//! ```

mod config;
#[cfg(test)]
mod tests;

use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::blocks::{
    accuracy_at_end, add_gaussian_noise, choice_accuracy_over, psychrnn_stimulus_noise_std, recorded_choice,
};
use psychrnn_core::task::duration::{Duration, round_down};
use psychrnn_core::task::expr::Expr;
use psychrnn_core::task::{
    Behaviour, Condition as GridCondition, Readout, StimulusEnd, StimulusPeriod, Timeline, TrialBatch,
};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;

pub use config::{Accuracy, AnalysisConfig, Condition, EpochConfig, EpochsConfig, ReadoutConfig, Value};

/// The registry tag.
pub const TAG: &str = "epochs";

/// The variables every expression may read besides the conditions, in this order after them.
const BUILT_IN: [&str; 3] = ["catch", "t", "t_epoch"];

/// Names the trial's parameter record uses besides conditions and epochs.
const RECORDED: [&str; 3] = ["catch", "choice", "end"];

/// One epoch's compiled values, one per channel (`None`: 0).
struct CompiledEpoch {
    inputs: Vec<Option<Expr>>,
    targets: Vec<Option<Expr>>,
    mask: Expr,
}

/// The task.
pub struct Epochs {
    config: EpochsConfig,
    timing: TaskTiming,
    epochs: Vec<CompiledEpoch>,
}

impl Plugin for Epochs {
    type Kind = dyn Task;
    type Config = EpochsConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "A task declared in the manifest: conditions, named epochs with drawn durations, per-epoch inputs/targets/mask";

    fn build(config: EpochsConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Epochs::new(config, timing.clone())?))
    }
}

fn check_names(field: &str, names: &[String]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Error::invalid(format!("{field}[{i}]"), format!("`{name}` is named twice")));
        }
    }
    Ok(())
}

/// Compiles one channel map of an epoch into a value per channel.
fn compile_channels(
    field: &str,
    given: &std::collections::BTreeMap<String, Value>,
    channels: &[String],
    variables: &[&str],
) -> Result<Vec<Option<Expr>>> {
    let mut out = vec![None; channels.len()];
    for (name, value) in given {
        let field = format!("{field}.{name}");
        let Some(c) = channels.iter().position(|n| n == name) else {
            return Err(Error::invalid(
                field,
                format!("no channel named `{name}`; the channels are {}", channels.join(", ")),
            ));
        };
        out[c] = Some(compile(&field, value, variables)?);
    }
    Ok(out)
}

fn compile(field: &str, value: &Value, variables: &[&str]) -> Result<Expr> {
    match value {
        Value::Number(x) if x.is_finite() => Ok(Expr::constant(*x)),
        Value::Number(x) => Err(Error::invalid(field, format!("must be finite, got {x}"))),
        Value::Expression(text) => Expr::compile(field, text, variables),
    }
}

/// Checks `[task.analysis]`: grid conditions exist, expressions compile, the epoch exists.
fn check_analysis(a: &AnalysisConfig, config: &EpochsConfig, epochs: &[String]) -> Result<()> {
    for (name, values) in &a.grid {
        if !config.conditions.contains_key(name) {
            return Err(Error::invalid(format!("analysis.grid.{name}"), "is not a condition of the task"));
        }
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(format!("analysis.grid.{name}"), "list one or more finite values"));
        }
    }
    let variables: Vec<&str> = config.conditions.keys().map(String::as_str).collect();
    Expr::compile("analysis.signed_stimulus", &a.signed_stimulus, &variables)?;
    Expr::compile("analysis.correct_choice", &a.correct_choice, &variables)?;
    if let Some(e) = &a.stimulus_epoch
        && !epochs.contains(e)
    {
        return Err(Error::invalid(
            "analysis.stimulus_epoch",
            format!("no epoch is named `{e}`; epochs: {}", epochs.join(", ")),
        ));
    }
    if let ReadoutConfig::Threshold(t) = a.readout
        && !t.is_finite()
    {
        return Err(Error::invalid("analysis.readout", format!("threshold must be finite, got {t}")));
    }
    Ok(())
}

/// The conditions of the grid: every combination of the grid's values (condition names in
/// order), each with the values of the conditions it fixes.
fn grid_points(grid: &std::collections::BTreeMap<String, Vec<f64>>) -> Vec<Vec<(String, f64)>> {
    let mut points: Vec<Vec<(String, f64)>> = vec![Vec::new()];
    for (name, values) in grid {
        points = points
            .into_iter()
            .flat_map(|p| values.iter().map(move |&v| p.iter().cloned().chain([(name.clone(), v)]).collect::<Vec<_>>()))
            .collect();
    }
    points
}

impl Epochs {
    /// Checks and compiles the declaration.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field for: no outputs, a name used twice (an epoch and a
    /// condition included), a condition with no values, a reversed range or a reserved name
    /// (`catch`, `choice`, `end`, `t`, `t_epoch`), a bad duration,
    /// `"rest"` before the last epoch, epochs that can outlast `T`, an unknown channel, an
    /// expression that does not compile, a probability outside [0, 1] or negative noise.
    pub fn new(config: EpochsConfig, timing: TaskTiming) -> Result<Self> {
        if config.outputs.is_empty() {
            return Err(Error::invalid("outputs", "name at least one output channel"));
        }
        check_names("inputs", &config.inputs)?;
        check_names("outputs", &config.outputs)?;
        for (name, c) in &config.conditions {
            let field = format!("conditions.{name}");
            if BUILT_IN.contains(&name.as_str()) || RECORDED.contains(&name.as_str()) {
                return Err(Error::invalid(field, format!("`{name}` is reserved for the task's own variable")));
            }
            match c {
                Condition::Values(v) if v.is_empty() => return Err(Error::invalid(field, "list at least one value")),
                Condition::Uniform { uniform: [a, b] } if !(a.is_finite() && b.is_finite() && a <= b) => {
                    return Err(Error::invalid(field, format!("uniform range [{a}, {b}] must be finite and ordered")));
                }
                _ => {}
            }
        }
        Error::check_unit_interval("catch_probability", config.catch_probability)?;
        if !(config.stim_noise.is_finite() && config.stim_noise >= 0.0) {
            return Err(Error::invalid("stim_noise", format!("must be >= 0, got {}", config.stim_noise)));
        }
        if config.epoch.is_empty() {
            return Err(Error::invalid("epoch", "declare at least one epoch"));
        }
        let names: Vec<String> = config.epoch.iter().map(|e| e.name.clone()).collect();
        check_names("epoch", &names)?;
        // Conditions and epoch start times share the trial's parameter record.
        for (i, name) in names.iter().enumerate() {
            if config.conditions.contains_key(name) || RECORDED.contains(&name.as_str()) {
                return Err(Error::invalid(
                    format!("epoch[{i}].name"),
                    format!("`{name}` is also a condition or a recorded value ({}); rename one", RECORDED.join(", ")),
                ));
            }
        }

        let variables: Vec<&str> = config.conditions.keys().map(String::as_str).chain(BUILT_IN).collect();
        let mut longest = 0.0;
        let mut epochs = Vec::with_capacity(config.epoch.len());
        for (i, e) in config.epoch.iter().enumerate() {
            let field = |name: &str| format!("epoch[{i}].{name}");
            e.duration.validate(&field("duration"))?;
            match e.duration.max() {
                Some(d) => longest += d,
                None if i + 1 < config.epoch.len() => {
                    return Err(Error::invalid(field("duration"), "only the last epoch can last the \"rest\" of T"));
                }
                None => {}
            }
            epochs.push(CompiledEpoch {
                inputs: compile_channels(&field("inputs"), &e.inputs, &config.inputs, &variables)?,
                targets: compile_channels(&field("targets"), &e.targets, &config.outputs, &variables)?,
                mask: compile(&field("mask"), &e.mask, &variables)?,
            });
        }
        if longest > timing.duration {
            return Err(Error::invalid(
                "T",
                format!("the epochs can last up to {longest} ms, longer than T = {} ms", timing.duration),
            ));
        }
        if let Some(a) = &config.analysis {
            check_analysis(a, &config, &names)?;
        }
        Ok(Epochs { config, timing, epochs })
    }

    /// Draws the duration of every epoch, `"rest"` reaching `T`.
    fn durations(&self, rng: &mut Rng) -> Vec<f64> {
        let mut elapsed = 0.0;
        self.config
            .epoch
            .iter()
            .map(|e| {
                let d = match e.duration {
                    Duration::Rest(_) => self.timing.duration - elapsed,
                    ref d if self.config.round_durations => round_down(d.sample(rng), self.timing.dt),
                    ref d => d.sample(rng),
                };
                elapsed += d;
                d
            })
            .collect()
    }
}

impl Task for Epochs {
    /// The grid of `[task.analysis]`, each condition fixed by a single-value list and without
    /// catch trials.
    fn behaviour(&self) -> Option<Behaviour> {
        let a = self.config.analysis.as_ref()?;
        let variables: Vec<&str> = self.config.conditions.keys().map(String::as_str).collect();
        let signed = Expr::compile("analysis.signed_stimulus", &a.signed_stimulus, &variables).ok()?;
        let correct = Expr::compile("analysis.correct_choice", &a.correct_choice, &variables).ok()?;
        let mut conditions = Vec::new();
        for point in grid_points(&a.grid) {
            // Conditions outside the grid enter the expressions at their first listed value
            // (or their range's lower end).
            let values: Vec<f64> = self
                .config
                .conditions
                .iter()
                .map(|(name, c)| {
                    point.iter().find(|(n, _)| n == name).map(|(_, v)| *v).unwrap_or(match c {
                        Condition::Values(v) => v.first().copied().unwrap_or(0.0),
                        Condition::Uniform { uniform } => uniform[0],
                    })
                })
                .collect();
            let mut fixed = toml::Table::new();
            for (name, c) in &self.config.conditions {
                let value = point.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                let entry = match (value, c) {
                    (Some(v), _) => toml::Value::Array(vec![v.into()]),
                    (None, c) => toml::Value::try_from(c).ok()?,
                };
                fixed.insert(name.clone(), entry);
            }
            let mut config = toml::Table::new();
            config.insert("conditions".into(), toml::Value::Table(fixed));
            config.insert("catch_probability".into(), 0.0.into());
            let choice = correct.eval(&values);
            conditions.push(GridCondition {
                config,
                signed_stimulus: signed.eval(&values),
                correct_choice: (choice >= 0.0).then_some(choice.round() as usize),
                group: String::new(),
                variables: point,
            });
        }
        let stimulus_period = a.stimulus_epoch.as_ref().map(|e| {
            let index = self.config.epoch.iter().position(|x| &x.name == e).unwrap_or(0);
            let end = self.config.epoch.get(index + 1).map_or_else(|| "end".to_string(), |next| next.name.clone());
            StimulusPeriod { onset: e.clone(), end: StimulusEnd::TimeParam(end) }
        });
        Some(Behaviour {
            conditions,
            stimulus_label: a.stimulus_label.clone(),
            psychometric_variables: Vec::new(),
            readout: match a.readout {
                ReadoutConfig::MaskedMean => Readout::MaskedMean,
                ReadoutConfig::AtEnd => Readout::AtEnd,
                ReadoutConfig::Threshold(threshold) => Readout::Threshold { threshold },
            },
            stimulus_period,
            cue_combination: None,
        })
    }

    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        self.config.inputs.len()
    }

    fn n_out(&self) -> usize {
        self.config.outputs.len()
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let c = &self.config;
        let n_conditions = c.conditions.len();
        let (catch, t, t_epoch) = (n_conditions, n_conditions + 1, n_conditions + 2);
        let mut params = TrialParams::new();
        let mut vars = vec![0.0; n_conditions + BUILT_IN.len()];
        let is_catch = c.catch_probability > 0.0 && rng.random::<f64>() < c.catch_probability;
        vars[catch] = f64::from(u8::from(is_catch));
        for (k, (name, condition)) in c.conditions.iter().enumerate() {
            vars[k] = match condition {
                Condition::Values(values) => values[rng.random_range(0..values.len())],
                Condition::Uniform { uniform: [a, b] } => a + (b - a) * rng.random::<f64>(),
            };
            params.insert(name.clone(), vars[k].into());
        }
        params.insert("catch".into(), is_catch.into());

        let durations = self.durations(rng);
        let named: Vec<(&str, f64)> = c.epoch.iter().map(|e| e.name.as_str()).zip(durations).collect();
        let timeline = Timeline::sequential(0.0, &named);
        let dt = self.timing.dt;
        let length = timeline.steps(&c.epoch[c.epoch.len() - 1].name, dt).end.min(self.timing.n_steps());
        *trial.length = length;

        let noise_std = psychrnn_stimulus_noise_std(dt, c.stim_noise);
        if noise_std > 0.0 {
            for s in 0..length {
                add_gaussian_noise(trial.inputs.row_mut(s), noise_std, rng);
            }
        }
        for (epoch, compiled) in timeline.epochs().iter().zip(&self.epochs) {
            let steps = timeline.steps(&epoch.name, dt);
            let steps = steps.start.min(length)..steps.end.min(length);
            // Values that do not depend on time are computed once per epoch.
            let constant = |e: &Expr, vars: &[f64]| (!e.reads(t) && !e.reads(t_epoch)).then(|| e.eval(vars) as f32);
            let fixed_in: Vec<Option<f32>> =
                compiled.inputs.iter().map(|e| e.as_ref().and_then(|e| constant(e, &vars))).collect();
            let fixed_out: Vec<Option<f32>> =
                compiled.targets.iter().map(|e| e.as_ref().and_then(|e| constant(e, &vars))).collect();
            let fixed_mask = constant(&compiled.mask, &vars);
            for s in steps {
                vars[t] = self.timing.time_of(s);
                vars[t_epoch] = vars[t] - epoch.start;
                let value = |e: &Expr, fixed: Option<f32>| fixed.unwrap_or_else(|| e.eval(&vars) as f32);
                for (ch, e) in compiled.inputs.iter().enumerate() {
                    if let Some(e) = e {
                        trial.inputs[[s, ch]] += value(e, fixed_in[ch]);
                    }
                }
                for (ch, e) in compiled.targets.iter().enumerate() {
                    if let Some(e) = e {
                        trial.targets[[s, ch]] = value(e, fixed_out[ch]);
                    }
                }
                trial.mask.row_mut(s).fill(value(&compiled.mask, fixed_mask));
            }
        }

        timeline.record(&mut params);
        if let (false, Some(last)) = (is_catch, length.checked_sub(1)) {
            let row = trial.targets.row(last);
            let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut at_best = row.iter().enumerate().filter(|(_, v)| **v == best);
            if let (Some((choice, _)), None) = (at_best.next(), at_best.next()) {
                params.insert("choice".into(), choice.into());
            }
        }
        params
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ndarray::ArrayView3<'_, f32>) -> f64 {
        match self.config.accuracy {
            Accuracy::Choice => {
                choice_accuracy_over(batch, outputs, |b| recorded_choice(&batch.trial_params[b]).is_some())
            }
            Accuracy::ChoiceAtEnd => accuracy_at_end(batch, outputs),
        }
    }
}
