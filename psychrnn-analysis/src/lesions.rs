//! Perturbations as analyses: silence a group of units and see what the network still does.
//!
//! A unit is silenced by removing its outgoing weights (its columns of `W_rec` and `W_out`):
//! its rate then reaches neither the other units nor the outputs from the first step on. That is
//! the simulator's lesion from the trial's start (`psychrnn simulate --lesion UNITS@0`), which
//! also removes the initial state's rate from the first step's input (tested equal), and it works
//! for any model with those parameters, through the model's own forward pass.

use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Error, ParamSet, Result};
use rand::seq::SliceRandom;
use serde::Serialize;

/// A named group of units to silence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LesionGroup {
    /// What the group is (e.g. `most_selective`).
    pub name: String,
    /// Its units, ascending.
    pub units: Vec<usize>,
}

/// `params` with the outgoing weights of `units` removed (columns of `W_rec` and `W_out` set to
/// 0), which silences them.
///
/// # Errors
/// [`Error::Invalid`] if the model has no raw `W_rec` or a unit is out of range.
pub fn silence(params: &ParamSet<f32>, units: &[usize]) -> Result<ParamSet<f32>> {
    let mut out = params.clone();
    let n = params
        .require("W_rec")
        .map_err(|_| Error::invalid("lesion", "the model has no `W_rec`: lesions silence rate units"))?
        .ncols();
    if let Some(&u) = units.iter().find(|&&u| u >= n) {
        return Err(Error::invalid("lesion", format!("unit {u} does not exist; the network has {n} units")));
    }
    for name in ["W_rec", "W_out"] {
        if let Some(w) = out.get_mut(name) {
            for &u in units {
                w.column_mut(u).fill(0.0);
            }
        }
    }
    Ok(out)
}

/// The standard lesion groups of `n` units: with a selectivity per unit, the `fraction` most
/// selective units (by |d'|) and the most selective for choice 1 and for choice 2 (that many
/// each); as many random units (the control: any lesion of that size); with Dale's principle
/// every inhibitory unit. Groups that would be empty are left out.
pub fn standard_groups(
    n: usize,
    selectivity: Option<&[f64]>,
    excitatory: Option<&[bool]>,
    fraction: f64,
    seed: u64,
) -> Vec<LesionGroup> {
    let zeros = vec![0.0; n];
    let has_selectivity = selectivity.is_some_and(|d| d.len() == n);
    let selectivity = selectivity.filter(|d| d.len() == n).unwrap_or(&zeros);
    let k = ((fraction * n as f64).round() as usize).clamp(1, n.max(1));
    let key = |u: usize| if selectivity[u].is_finite() { selectivity[u] } else { 0.0 };
    let top = |score: &dyn Fn(usize) -> f64| -> Vec<usize> {
        let mut units: Vec<usize> = (0..n).collect();
        units.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
        let mut chosen: Vec<usize> = units.into_iter().take(k).collect();
        chosen.sort_unstable();
        chosen
    };
    let mut random: Vec<usize> = (0..n).collect();
    random.shuffle(&mut stream(seed, Purpose::User, 1 << 41));
    random.truncate(k);
    random.sort_unstable();
    let mut groups = Vec::new();
    if has_selectivity {
        groups.push(LesionGroup { name: "most_selective".into(), units: top(&|u| key(u).abs()) });
        groups.push(LesionGroup { name: "most_selective_choice1".into(), units: top(&|u| key(u)) });
        groups.push(LesionGroup { name: "most_selective_choice2".into(), units: top(&|u| -key(u)) });
    }
    groups.push(LesionGroup { name: "random".into(), units: random });
    if let Some(e) = excitatory {
        groups.push(LesionGroup { name: "inhibitory".into(), units: (0..n).filter(|&u| !e[u]).collect() });
    }
    groups.retain(|g| !g.units.is_empty() && n > 0);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::npz::write_npz;
    use psychrnn_train::{Experiment, Trainer};

    #[test]
    fn groups_pick_by_selectivity_with_a_random_control() {
        let d = [0.1, -2.0, 3.0, 0.5, -0.4, 1.5, f64::NAN, -3.5, 0.0, 0.2];
        let e = [true, true, true, true, true, true, true, true, false, false];
        let g = standard_groups(10, Some(&d), Some(&e), 0.2, 1);
        let by = |name: &str| g.iter().find(|x| x.name == name).unwrap().units.clone();
        assert_eq!(by("most_selective"), vec![2, 7]);
        assert_eq!(by("most_selective_choice1"), vec![2, 5]);
        assert_eq!(by("most_selective_choice2"), vec![1, 7]);
        assert_eq!(by("inhibitory"), vec![8, 9]);
        assert_eq!(by("random").len(), 2);
        assert!(standard_groups(10, Some(&d), None, 0.2, 1).iter().all(|x| x.name != "inhibitory"));
        let without: Vec<String> = standard_groups(10, None, Some(&e), 0.2, 1).into_iter().map(|g| g.name).collect();
        assert_eq!(without, ["random", "inhibitory"], "no selectivity: no selectivity groups");
    }

    #[test]
    fn silencing_outgoing_weights_is_the_simulators_lesion_from_the_start() {
        let registry = psychrnn_plugins::registry().unwrap();
        let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry).unwrap();
        let trainer = Trainer::new(&exp).unwrap();
        let units = [0usize, 3, 14];
        let lesioned = silence(trainer.params(), &units).unwrap();
        let batch = exp.task.generate_batch(6, &mut stream(4, Purpose::User, 0));
        let mut ours = psychrnn_core::Trajectory::default();
        exp.model.forward(&lesioned, batch.inputs.view(), None, &mut ours).unwrap();

        // The simulator's lesion from step 0 still lets the initial state's rate drive step 0;
        // with a silent initial state (ReLU of 0) for the lesioned units the two must agree.
        let mut quiet_start = trainer.params().clone();
        for &u in &units {
            quiet_start.require_mut("init_state").unwrap()[[0, u]] = 0.0;
        }
        let file = std::env::temp_dir().join(format!("psychrnn-lesion-{}.npz", std::process::id()));
        write_npz(&file, &exp.model.export(&quiet_start).unwrap()).unwrap();
        let (sim, _) = psychrnn_rate::Simulator::from_npz(&file, None, None).unwrap();
        std::fs::remove_file(&file).ok();
        let perturbation = psychrnn_rate::dynamics::Perturbation {
            lesions: vec![psychrnn_rate::dynamics::Lesion { units: units.to_vec(), from_step: 0 }],
            ..Default::default()
        };
        let theirs = sim.run(batch.inputs.view(), None, Some(&perturbation)).unwrap();
        let diff = (&ours.outputs - &theirs.outputs).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
        assert!(diff < 1e-5, "outputs differ by {diff}");
        // And the lesion did something.
        let mut intact = psychrnn_core::Trajectory::default();
        exp.model.forward(trainer.params(), batch.inputs.view(), None, &mut intact).unwrap();
        assert!((&intact.outputs - &ours.outputs).mapv(f32::abs).sum() > 1e-3);
        assert!(silence(trainer.params(), &[16]).unwrap_err().to_string().contains("unit 16 does not exist"));
    }
}
