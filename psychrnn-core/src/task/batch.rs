//! A batch of trials in time-major layout, and the per-trial view a task fills.

use ndarray::{Array3, ArrayViewMut2, s};

/// The recorded conditions of one trial (coherence, direction, onset, ...), kept for analysis.
pub type TrialParams = serde_json::Map<String, serde_json::Value>;

/// A batch of trials. Arrays are time-major, `[n_steps, n_trials, channels]`, so that the
/// inputs of one time step are one contiguous `n_trials x channels` matrix in the hot loop.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialBatch {
    /// Inputs `[T, B, N_in]`.
    pub inputs: Array3<f32>,
    /// Target outputs `[T, B, N_out]`.
    pub targets: Array3<f32>,
    /// Loss mask `[T, B, N_out]`.
    pub mask: Array3<f32>,
    /// The conditions of each trial, in batch order.
    pub trial_params: Vec<TrialParams>,
    /// The number of steps each trial lasts (PyCog's variable-length trials); the steps after
    /// a trial's end are padding with a zero mask. `n_steps()` for tasks of fixed duration.
    pub lengths: Vec<usize>,
}

/// One trial's slices of a [`TrialBatch`], each `[n_steps, channels]`.
pub struct TrialMut<'a> {
    /// Inputs `[T, N_in]`.
    pub inputs: ArrayViewMut2<'a, f32>,
    /// Targets `[T, N_out]`.
    pub targets: ArrayViewMut2<'a, f32>,
    /// Loss mask `[T, N_out]`.
    pub mask: ArrayViewMut2<'a, f32>,
    /// How many steps this trial lasts, `T` on entry: a task with trials of variable duration
    /// sets it and leaves the steps after it zero; the batch is cut to its longest trial.
    pub length: &'a mut usize,
}

impl TrialBatch {
    /// A zero batch with room for `n_trials` trial records.
    pub fn zeros(n_steps: usize, n_trials: usize, n_in: usize, n_out: usize) -> Self {
        TrialBatch {
            inputs: Array3::zeros((n_steps, n_trials, n_in)),
            targets: Array3::zeros((n_steps, n_trials, n_out)),
            mask: Array3::zeros((n_steps, n_trials, n_out)),
            trial_params: Vec::with_capacity(n_trials),
            lengths: vec![n_steps; n_trials],
        }
    }

    /// Number of time steps.
    pub fn n_steps(&self) -> usize {
        self.inputs.shape()[0]
    }

    /// Number of trials.
    pub fn n_trials(&self) -> usize {
        self.inputs.shape()[1]
    }

    /// The slices of trial `b`.
    ///
    /// # Panics
    /// If `b >= n_trials()`.
    pub fn trial_mut(&mut self, b: usize) -> TrialMut<'_> {
        TrialMut {
            inputs: self.inputs.slice_mut(s![.., b, ..]),
            targets: self.targets.slice_mut(s![.., b, ..]),
            mask: self.mask.slice_mut(s![.., b, ..]),
            length: &mut self.lengths[b],
        }
    }

    /// Cuts the batch to its longest trial (trial lengths longer than the batch are clamped).
    pub fn trim_to_longest(&mut self) {
        let n_steps = self.n_steps();
        self.lengths.iter_mut().for_each(|l| *l = (*l).min(n_steps));
        let longest = self.lengths.iter().copied().max().unwrap_or(n_steps);
        if longest < n_steps {
            self.inputs = self.inputs.slice(s![..longest, .., ..]).to_owned();
            self.targets = self.targets.slice(s![..longest, .., ..]).to_owned();
            self.mask = self.mask.slice(s![..longest, .., ..]).to_owned();
        }
    }

    /// The last step of trial `b` (where PyCog reads a choice).
    pub fn last_step(&self, b: usize) -> usize {
        self.lengths[b].clamp(1, self.n_steps().max(1)) - 1
    }
}
