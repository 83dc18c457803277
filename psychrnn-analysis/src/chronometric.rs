//! Behaviour read from a trial's outputs (the choice, the reaction time) and chronometric
//! curves (reaction time against the stimulus, correct and error trials apart; PyCog Fig 2D).

use std::collections::BTreeMap;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// PyCog's reaction time: the first step in `start..end` at which an output reaches
/// `threshold`, and which output (the choice; the larger if several do). `outputs` is one
/// trial's `[time, outputs]`. `None` if no output reaches it (no decision).
pub fn threshold_crossing(
    outputs: ArrayView2<'_, f32>,
    threshold: f32,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    outputs.rows().into_iter().enumerate().take(end).skip(start).find_map(|(t, row)| {
        row.iter().enumerate().filter(|&(_, &z)| z >= threshold).max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| (t, c))
    })
}

/// PyCog's variable-stimulus choice: the output that is largest at step `last`.
pub fn choice_at(outputs: ArrayView2<'_, f32>, last: usize) -> Option<usize> {
    let row = outputs.row(last.min(outputs.nrows().checked_sub(1)?));
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| c)
}

/// PsychRNN's choice: the output channel with the largest time-averaged value over the steps
/// where `mask` (`[time, outputs]`) is on for any channel; `None` without such a step.
pub fn masked_mean_choice(outputs: ArrayView2<'_, f32>, mask: ArrayView2<'_, f32>) -> Option<usize> {
    let steps: Vec<usize> = (0..outputs.nrows()).filter(|&t| mask.row(t).iter().any(|&m| m > 0.0)).collect();
    if steps.is_empty() {
        return None;
    }
    (0..outputs.ncols())
        .map(|c| (c, steps.iter().map(|&t| f64::from(outputs[[t, c]])).sum::<f64>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// One trial's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The condition's stimulus value the curve is plotted against (e.g. unsigned coherence).
    pub stimulus: f64,
    /// Whether the choice was correct (`None`: no decision, or no choice is correct).
    pub correct: Option<bool>,
    /// The reaction time in ms (`None`: no decision).
    pub reaction_time: Option<f64>,
}

impl Outcome {
    fn decided(&self) -> bool {
        self.reaction_time.is_some() || self.correct.is_some()
    }
}

/// Reaction times of one stimulus value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChronometricPoint {
    /// The stimulus value.
    pub stimulus: f64,
    /// Trials at it.
    pub n_trials: usize,
    /// Trials without a decision.
    pub n_no_decision: usize,
    /// Mean reaction time of every trial with a decision, ms (zero-evidence conditions have
    /// neither correct nor error trials).
    pub mean_rt: f64,
    /// Its standard error, ms.
    pub sem_rt: f64,
    /// Correct trials.
    pub n_correct: usize,
    /// Mean reaction time of correct trials, ms (NaN without any).
    pub mean_rt_correct: f64,
    /// Its standard error, ms (NaN with fewer than 2 trials).
    pub sem_rt_correct: f64,
    /// Error trials.
    pub n_error: usize,
    /// Mean reaction time of error trials, ms.
    pub mean_rt_error: f64,
    /// Its standard error, ms.
    pub sem_rt_error: f64,
    /// Fraction correct among trials with a decision.
    pub accuracy: f64,
}

fn mean_sem(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// The chronometric curve: per stimulus value (ascending), mean reaction times and standard
/// errors of correct and of error trials, and the accuracy.
pub fn chronometric(outcomes: &[Outcome]) -> Vec<ChronometricPoint> {
    let mut by_stimulus: BTreeMap<u64, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.stimulus.is_finite()) {
        // Order-preserving key of a float (non-negative and negative values alike).
        let bits = o.stimulus.to_bits();
        let key = if o.stimulus.is_sign_negative() { !bits } else { bits | (1 << 63) };
        by_stimulus.entry(key).or_default().push(o);
    }
    by_stimulus
        .into_values()
        .map(|trials| {
            let rts = |want: bool| -> Vec<f64> {
                trials.iter().filter(|o| o.correct == Some(want)).filter_map(|o| o.reaction_time).collect()
            };
            let (correct, error) = (rts(true), rts(false));
            let all: Vec<f64> = trials.iter().filter_map(|o| o.reaction_time).collect();
            let (mean_rt, sem_rt) = mean_sem(&all);
            let n_correct = trials.iter().filter(|o| o.correct == Some(true)).count();
            let n_error = trials.iter().filter(|o| o.correct == Some(false)).count();
            let ((mean_rt_correct, sem_rt_correct), (mean_rt_error, sem_rt_error)) =
                (mean_sem(&correct), mean_sem(&error));
            ChronometricPoint {
                stimulus: trials[0].stimulus,
                n_trials: trials.len(),
                n_no_decision: trials.iter().filter(|o| !o.decided()).count(),
                mean_rt,
                sem_rt,
                n_correct,
                mean_rt_correct,
                sem_rt_correct,
                n_error,
                mean_rt_error,
                sem_rt_error,
                accuracy: if n_correct + n_error > 0 {
                    n_correct as f64 / (n_correct + n_error) as f64
                } else {
                    f64::NAN
                },
            }
        })
        .collect()
}

/// Fraction correct in one bin of stimulus durations at one stimulus value (PyCog Fig 2E).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationPoint {
    /// The stimulus value (e.g. unsigned coherence).
    pub stimulus: f64,
    /// The bin's shortest and longest stimulus duration, ms.
    pub duration_range_ms: (f64, f64),
    /// The mean stimulus duration of its trials, ms.
    pub mean_duration_ms: f64,
    /// Trials with a decision and a correct answer in the bin.
    pub n_trials: usize,
    /// Of those, correct.
    pub n_correct: usize,
    /// Fraction correct.
    pub accuracy: f64,
}

/// Accuracy against stimulus duration: the trials' durations are cut into `bins` bins of equal
/// counts (over all trials), then per stimulus value (ascending) and bin the fraction correct of
/// trials with a decision and a correct answer. `trials` are `(stimulus, duration_ms, correct)`.
pub fn accuracy_by_duration(trials: &[(f64, f64, Option<bool>)], bins: usize) -> Vec<DurationPoint> {
    let mut durations: Vec<f64> = trials.iter().map(|t| t.1).filter(|d| d.is_finite()).collect();
    durations.sort_by(f64::total_cmp);
    let bins = bins.max(1);
    let edges: Vec<f64> = (0..=bins).map(|k| crate::statistics::quantile(&durations, k as f64 / bins as f64)).collect();
    let bin_of = |d: f64| edges[1..bins].iter().take_while(|&&e| d > e).count();
    let mut stimuli: Vec<f64> = trials.iter().map(|t| t.0).filter(|s| s.is_finite()).collect();
    stimuli.sort_by(f64::total_cmp);
    stimuli.dedup();
    let mut out = Vec::new();
    for s in stimuli {
        for b in 0..bins {
            let inside: Vec<&(f64, f64, Option<bool>)> =
                trials.iter().filter(|t| t.0 == s && t.1.is_finite() && bin_of(t.1) == b && t.2.is_some()).collect();
            if inside.is_empty() {
                continue;
            }
            let n_correct = inside.iter().filter(|t| t.2 == Some(true)).count();
            out.push(DurationPoint {
                stimulus: s,
                duration_range_ms: (edges[b], edges[b + 1]),
                mean_duration_ms: inside.iter().map(|t| t.1).sum::<f64>() / inside.len() as f64,
                n_trials: inside.len(),
                n_correct,
                accuracy: n_correct as f64 / inside.len() as f64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_first_crossing_gives_the_time_and_the_choice() {
        let z = array![[0.1f32, 0.9], [0.2, 0.3], [0.8, 0.4], [0.9, 0.95]];
        assert_eq!(threshold_crossing(z.view(), 0.5, 0, 4), Some((0, 1)));
        assert_eq!(threshold_crossing(z.view(), 0.5, 1, 4), Some((2, 0)));
        assert_eq!(threshold_crossing(z.view(), 0.92, 0, 4), Some((3, 1)));
        assert_eq!(threshold_crossing(z.view(), 0.95, 0, 4), Some((3, 1)), "reaching the threshold counts");
        assert_eq!(threshold_crossing(z.view(), 0.92, 0, 3), None, "steps past the trial's end do not count");
        assert_eq!(threshold_crossing(z.view(), 1.0, 0, 4), None);
        assert_eq!((choice_at(z.view(), 2), choice_at(z.view(), 9)), (Some(0), Some(1)));
        let mask = array![[0.0f32, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]];
        assert_eq!(masked_mean_choice(z.view(), mask.view()), Some(0));
        assert_eq!(masked_mean_choice(z.view(), ndarray::Array2::<f32>::zeros((4, 2)).view()), None);
    }

    #[test]
    fn reaction_times_are_averaged_per_stimulus_correct_and_error_apart() {
        let o = |stimulus, correct, rt| Outcome { stimulus, correct, reaction_time: rt };
        let curve = chronometric(&[
            o(0.5, Some(true), Some(300.0)),
            o(0.1, Some(true), Some(500.0)),
            o(0.1, Some(true), Some(700.0)),
            o(0.1, Some(false), Some(900.0)),
            o(0.1, None, None),
            o(0.5, Some(true), Some(320.0)),
            o(0.0, None, Some(800.0)),
            o(0.0, None, Some(1000.0)),
        ]);
        assert_eq!(curve.len(), 3);
        let zero = &curve[0];
        assert_eq!((zero.n_trials, zero.n_no_decision, zero.n_correct, zero.n_error), (2, 0, 0, 0));
        assert_eq!((zero.mean_rt, zero.sem_rt), (900.0, 100.0));
        assert!(zero.accuracy.is_nan());
        let low = &curve[1];
        assert_eq!((low.stimulus, low.n_trials, low.n_no_decision, low.n_correct, low.n_error), (0.1, 4, 1, 2, 1));
        assert_eq!((low.mean_rt_correct, low.sem_rt_correct), (600.0, 100.0));
        assert!(low.mean_rt_error == 900.0 && low.sem_rt_error.is_nan());
        assert!((low.accuracy - 2.0 / 3.0).abs() < 1e-12 && low.mean_rt == 700.0);
        assert_eq!((curve[2].stimulus, curve[2].mean_rt_correct, curve[2].accuracy), (0.5, 310.0, 1.0));
        let signed = chronometric(&[o(-0.2, None, None), o(0.1, None, None), o(-1.0, None, None)]);
        assert_eq!(signed.iter().map(|p| p.stimulus).collect::<Vec<_>>(), vec![-1.0, -0.2, 0.1]);
    }

    #[test]
    fn accuracy_is_binned_by_duration_per_stimulus() {
        // Durations 100..=800 in steps of 100 (8 trials per stimulus), 2 bins: 100-400 and 500-800.
        let mut trials = Vec::new();
        for (k, d) in (1..=8).map(|k| (k, f64::from(k) * 100.0)) {
            trials.push((0.1, d, Some(k > 4)));
            trials.push((0.5, d, Some(true)));
            trials.push((0.5, d, None));
        }
        let points = accuracy_by_duration(&trials, 2);
        assert_eq!(points.len(), 4);
        assert_eq!((points[0].stimulus, points[0].n_trials, points[0].accuracy), (0.1, 4, 0.0));
        assert_eq!((points[1].n_trials, points[1].accuracy, points[1].mean_duration_ms), (4, 1.0, 650.0));
        assert_eq!(points[0].duration_range_ms.0, 100.0);
        assert!(points[2..].iter().all(|p| p.stimulus == 0.5 && p.accuracy == 1.0 && p.n_trials == 4));
    }
}
