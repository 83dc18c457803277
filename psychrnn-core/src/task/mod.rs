//! The `Task` extension point: trial-by-trial inputs, targets and loss masks.
//!
//! A task declares its input/output sizes and fills one trial at a time from a seeded RNG
//! (PsychRNN's `generate_trial_params` + `trial_function`, fused). The shared parts (timing,
//! batching into time-major arrays, the choice accuracy, PsychRNN's stimulus noise) live in
//! [`timing`], [`batch`] and [`blocks`], so a task only writes what is specific to it.

pub mod batch;
pub mod behaviour;
pub mod blocks;
pub mod duration;
pub mod expr;
pub mod timeline;
pub mod timing;

use ndarray::ArrayView3;

pub use batch::{TrialBatch, TrialMut, TrialParams};
pub use behaviour::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod};
pub use timeline::Timeline;
pub use timing::TaskTiming;

use crate::rng::Rng;

/// A cognitive task (see the module docs).
pub trait Task: Send + Sync {
    /// dt, tau, T and the training batch size.
    fn timing(&self) -> &TaskTiming;

    /// Number of input channels.
    fn n_in(&self) -> usize;

    /// Number of output channels.
    fn n_out(&self) -> usize;

    /// Draws one trial's conditions from `rng` and fills its inputs, targets and mask (each
    /// `n_steps x n`, zeroed on entry); returns the conditions, recorded for analysis.
    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams;

    /// Fraction of trials answered correctly, from outputs `[T, B, n_out]`. The default is
    /// PsychRNN's: the chosen channel is the argmax of the masked, time-averaged output, the
    /// correct one the argmax of the masked, time-averaged target.
    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::choice_accuracy(batch, outputs)
    }

    /// How the task's behaviour is analysed: its grid of conditions, how a choice is read, and
    /// when the stimulus is on ([`behaviour`]). `None` (the default): the task declares none, and
    /// behavioural analyses say so.
    fn behaviour(&self) -> Option<Behaviour> {
        None
    }

    /// Generates `n_trials` trials into time-major arrays, cut to the longest trial, then
    /// applies the timing's input conditioning ([`blocks::condition_inputs`]).
    fn generate_batch(&self, n_trials: usize, rng: &mut Rng) -> TrialBatch {
        let mut batch = TrialBatch::zeros(self.timing().n_steps(), n_trials, self.n_in(), self.n_out());
        for b in 0..n_trials {
            let params = self.generate_trial(rng, batch.trial_mut(b));
            batch.trial_params.push(params);
        }
        batch.trim_to_longest();
        blocks::condition_inputs(&mut batch, self.timing(), rng);
        batch
    }
}
