//! Epoch timelines: named, consecutive intervals of a trial (fixation, stimulus, delay,
//! decision, ...), so a task says "during the stimulus" instead of re-deriving epoch edges.

use crate::task::TrialParams;

/// One epoch, `[start, end)` in ms.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// Name (`stimulus_1`, `decision`, ...).
    pub name: String,
    /// Start time (ms, inclusive).
    pub start: f64,
    /// End time (ms, exclusive).
    pub end: f64,
}

/// The epochs of one trial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    epochs: Vec<Epoch>,
}

impl Timeline {
    /// Consecutive epochs starting at `start`, each lasting its duration.
    pub fn sequential(start: f64, durations: &[(&str, f64)]) -> Self {
        let mut t = start;
        let epochs = durations
            .iter()
            .map(|&(name, d)| {
                let e = Epoch { name: name.to_string(), start: t, end: t + d };
                t += d;
                e
            })
            .collect();
        Timeline { epochs }
    }

    /// Adds an epoch `[start, end)` that may overlap the others (e.g. a decision window inside
    /// an ongoing stimulus).
    pub fn push(&mut self, name: impl Into<String>, start: f64, end: f64) {
        self.epochs.push(Epoch { name: name.into(), start, end });
    }

    /// The epoch called `name`.
    pub fn epoch(&self, name: &str) -> Option<&Epoch> {
        self.epochs.iter().find(|e| e.name == name)
    }

    /// Whether `start <= t < end` for the epoch called `name` (false for an unknown name).
    pub fn contains(&self, name: &str, t: f64) -> bool {
        self.epoch(name).is_some_and(|e| e.start <= t && t < e.end)
    }

    /// The steps `s` of epoch `name` on a grid of step `dt` (step `s` at time `s dt`, so the
    /// steps with `start <= s dt < end`; PyCog's `(start, end]` on its clock `(s + 1) dt` is the
    /// same set). Empty for an unknown name.
    pub fn steps(&self, name: &str, dt: f64) -> std::ops::Range<usize> {
        let step = |t: f64| (t / dt - 1e-9).ceil().max(0.0) as usize;
        self.epoch(name).map_or(0..0, |e| step(e.start)..step(e.end))
    }

    /// The end of the last epoch (ms), 0 without epochs.
    pub fn end(&self) -> f64 {
        self.epochs.last().map_or(0.0, |e| e.end)
    }

    /// The epochs in order.
    pub fn epochs(&self) -> &[Epoch] {
        &self.epochs
    }

    /// Records each epoch's start time under its name, and the end of the last epoch under
    /// `end` (PsychRNN's trial-parameter keys, e.g. `stimulus_1`, `delay`, ..., `end`).
    pub fn record(&self, params: &mut TrialParams) {
        for e in &self.epochs {
            params.insert(e.name.clone(), e.start.into());
        }
        if let Some(last) = self.epochs.last() {
            params.insert("end".to_string(), last.end.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_epochs_are_half_open_and_contiguous() {
        let t = Timeline::sequential(100.0, &[("stimulus", 200.0), ("delay", 50.0)]);
        assert!(t.contains("stimulus", 100.0) && t.contains("stimulus", 299.9));
        assert!(!t.contains("stimulus", 300.0) && t.contains("delay", 300.0));
        assert!(!t.contains("delay", 350.0) && !t.contains("missing", 120.0));
        let mut p = TrialParams::new();
        t.record(&mut p);
        assert_eq!(p["stimulus"], 100.0);
        assert_eq!(p["delay"], 300.0);
        assert_eq!(p["end"], 350.0);
        // Steps on a 20 ms grid: PyCog's (100, 300] on t = (s + 1) dt is s = 5..15.
        assert_eq!(t.steps("stimulus", 20.0), 5..15);
        assert_eq!(t.steps("delay", 20.0), 15..18);
        assert_eq!(t.steps("missing", 20.0), 0..0);
        assert_eq!(t.end(), 350.0);
    }
}
