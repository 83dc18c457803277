//! `psychrnn analyze` end to end on a small trained network: every analysis writes its data and
//! its plot, the numbers make sense for a network that learned the task, and bad requests name
//! what is missing.

use std::path::Path;

use psychrnn_core::npz::read_npz;

use crate::end_to_end::{psychrnn, scratch, stderr, train};

/// Perceptual discrimination, 20 units under Dale's principle, trained long enough to choose.
const TRAINED: &str = r#"
name = "analyzed"
seed = 5
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 500
N_batch = 32
[model]
type = "basic_rnn"
N_rec = 20
dale_ratio = 0.8
rec_noise = 0.05
[optimizer]
type = "adam"
learning_rate = 0.01
[training]
training_iters = 9600
test_batch_size = 64
"#;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn analyze_writes_every_analysis_of_a_trained_network() {
    let dir = scratch("analyze");
    let o = train(&dir, TRAINED, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["analyze", "run", "--trials", "80", "--bootstrap", "60", "--quiet"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.join("run/analysis");
    for f in [
        "psychometric.json",
        "psychometric.csv",
        "psychometric.svg",
        "selectivity.json",
        "selectivity.csv",
        "selectivity.npz",
        "selectivity.svg",
        "connectivity.json",
        "connectivity.csv",
        "connectivity.npz",
        "connectivity.svg",
        "spectrum.svg",
        "pca.json",
        "pca.csv",
        "pca.npz",
        "pca.svg",
        "lesions.json",
        "lesions.csv",
        "lesions.svg",
        "regression.json",
        "regression.csv",
        "regression.npz",
        "regression.svg",
        "tuning.json",
        "tuning.csv",
        "tuning.npz",
        "tuning.svg",
        "duration.json",
        "duration.csv",
        "duration.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    // Behaviour: a curve that rises from choice 2 to choice 1, its fit inside the data's range.
    let p = json(&out.join("psychometric.json"));
    let curve = &p["curves"][0];
    let points = curve["points"].as_array().unwrap();
    assert_eq!(points.len(), 15, "8 coherences each way, zero once");
    let fraction = |i: usize| points[i]["fraction_choice1"].as_f64().unwrap();
    assert!(fraction(0) < 0.2 && fraction(14) > 0.8, "{points:?}");
    assert_eq!(points[7]["n_trials"].as_u64(), Some(160), "zero coherence from both directions");
    let fit = &curve["fit"];
    let (bias, sigma) = (fit["bias"].as_f64().unwrap(), fit["sigma"].as_f64().unwrap());
    assert!(bias.abs() < 0.3 && sigma > 0.0 && sigma < 0.64, "{fit}");
    let ci = &fit["intervals"]["bias"];
    assert!(ci["low"].as_f64().unwrap() <= bias && bias <= ci["high"].as_f64().unwrap(), "{fit}");
    assert!(fit["deviance"].as_f64().unwrap() >= 0.0 && fit["degrees_of_freedom"].as_i64() == Some(13));
    let csv = std::fs::read_to_string(out.join("psychometric.csv")).unwrap();
    assert_eq!(csv.lines().count(), 16, "a header and one row per point");

    // Units: one d' per unit, and the connectivity sorted by it, excitatory units first.
    let d = read_npz(&out.join("selectivity.npz")).unwrap();
    assert_eq!(d.get("d_prime").unwrap().shape, [20]);
    let c = json(&out.join("connectivity.json"));
    assert_eq!((c["n_units"].as_u64(), c["n_excitatory"].as_u64()), (Some(20), Some(16)));
    let order: Vec<usize> = c["order"].as_array().unwrap().iter().map(|u| u.as_u64().unwrap() as usize).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..20).collect::<Vec<_>>(), "every unit once");
    assert!(order[..16].iter().all(|&u| u < 16), "excitatory units first: {order:?}");
    let w = read_npz(&dir.join("run/weights.npz")).unwrap();
    let radius = c["spectral_radius"].as_f64().unwrap();
    let clustering = &c["clustering"];
    let (same, opposite) = (clustering["pairs_same"].as_u64().unwrap(), clustering["pairs_opposite"].as_u64().unwrap());
    assert!(same + opposite > 0 && same + opposite <= 16 * 15, "{clustering}");
    assert!(radius > 0.0 && w.get("W_rec").is_some());

    // Population: the variance explained adds up to at most 1 and falls.
    let pca = json(&out.join("pca.json"));
    let ratios: Vec<f64> =
        pca["explained_variance_ratio"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(ratios.windows(2).all(|w| w[0] >= w[1]) && ratios.iter().sum::<f64>() <= 1.0 + 1e-9, "{ratios:?}");
    assert_eq!(read_npz(&out.join("pca.npz")).unwrap().get("projections").unwrap().shape[0], 16);

    // Task axes: choice then coherence, orthonormal, from every trial with a choice.
    let r = json(&out.join("regression.json"));
    assert_eq!(r["variables"], serde_json::json!(["choice", "coherence"]));
    let axes = read_npz(&out.join("regression.npz")).unwrap();
    let a = axes.get("axes").unwrap();
    assert_eq!(a.shape, [2, 20]);
    let v = a.to_f32().unwrap();
    let dot = |i: usize, j: usize| (0..20).map(|u| f64::from(v[i * 20 + u]) * f64::from(v[j * 20 + u])).sum::<f64>();
    assert!((dot(0, 0) - 1.0).abs() < 1e-5 && (dot(1, 1) - 1.0).abs() < 1e-5 && dot(0, 1).abs() < 1e-5);
    assert!(r["trials_used"].as_u64().unwrap() > 1000);

    // Tuning to coherence after stimulus onset: a fraction per step, p-values per unit and step.
    let tuning = json(&out.join("tuning.json"));
    let fractions: Vec<f64> =
        tuning["fraction_tuned"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(!fractions.is_empty() && fractions.iter().all(|f| (0.0..=1.0).contains(f)));
    assert!(fractions.iter().copied().fold(0.0, f64::max) > 0.2, "a trained network carries coherence: {fractions:?}");
    assert_eq!(read_npz(&out.join("tuning.npz")).unwrap().get("p_values").unwrap().shape, [fractions.len(), 20]);

    // Accuracy against stimulus duration (PyCog Fig 2E): 6 bins per nonzero coherence.
    let dur = json(&out.join("duration.json"));
    let dpoints = dur["points"].as_array().unwrap();
    assert!(dpoints.len() > 30 && dpoints.iter().all(|p| p["accuracy"].as_f64().unwrap() <= 1.0), "{dur}");

    // Perturbations: the intact network first, then each group with its units; the intact
    // accuracy is the psychometric trials' and silencing a group never adds units.
    let l = json(&out.join("lesions.json"));
    let groups = l["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["intact", "most_selective", "most_selective_choice1", "most_selective_choice2", "random", "inhibitory"]
    );
    assert_eq!(groups[1]["n_units"].as_u64(), Some(2), "10% of 20 units");
    assert_eq!(groups[5]["n_units"].as_u64(), Some(4), "every inhibitory unit");
    let intact_accuracy = groups[0]["accuracy"].as_f64().unwrap();
    assert!(intact_accuracy > 0.7, "{intact_accuracy}");
    assert_eq!(groups[0]["fit"]["bias"], fit["bias"], "the intact fit is the psychometric analysis's");

    // Nothing is replaced without --force; the same analysis again gives the same numbers.
    let again = psychrnn(&["analyze", "run", "psychometric", "--trials", "80", "--bootstrap", "60", "-q"], &dir);
    assert!(!again.status.success() && stderr(&again).contains("pass --force"), "{}", stderr(&again));
    let o = psychrnn(&["analyze", "run", "psychometric", "--trials", "80", "--bootstrap", "60", "-q", "--force"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&out.join("psychometric.json")), p, "same seed, same analysis");
}

#[test]
fn bad_requests_name_what_is_missing() {
    let dir = scratch("analyze-bad");
    let manifest = TRAINED.replace("training_iters = 9600", "training_iters = 64");
    assert!(train(&dir, &manifest, "run").status.success());
    for (args, expected) in [
        (&["analyze", "run", "bogus"][..], "unknown analysis `bogus`; available: psychometric"),
        (&["analyze", "run", "chronometric"][..], "has no reaction times"),
        (&["analyze", "nowhere"][..], "nowhere is not a finished run directory: its manifest.lock.toml is missing"),
        (&["analyze", "run", "--sigmoid", "weibull"][..], "--sigmoid: unknown `weibull`"),
    ] {
        let o = psychrnn(args, &dir);
        assert!(!o.status.success() && stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
    std::fs::remove_file(dir.join("run/weights.npz")).unwrap();
    let o = psychrnn(&["analyze", "run"], &dir);
    assert!(stderr(&o).contains("its trained weights.npz is missing"), "{}", stderr(&o));

    // A task that declares no conditions: behaviour is refused by name, connectivity still runs.
    let other = manifest.replace("perceptual_discrimination", "delayed_discrimination").replace("T = 500", "T = 1200");
    assert!(train(&dir, &other, "dd").status.success());
    let o = psychrnn(&["analyze", "dd", "psychometric"], &dir);
    assert!(stderr(&o).contains("`delayed_discrimination` declares no conditions"), "{}", stderr(&o));
    let o = psychrnn(&["analyze", "dd", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("dd/analysis/connectivity.json").is_file() && !dir.join("dd/analysis/pca.json").exists());
}

#[test]
fn reaction_times_come_from_threshold_readouts() {
    let dir = scratch("analyze-rt");
    let manifest = r#"
name = "rt"
preset = "pycog"
seed = 2
[task]
type = "pycog_rdm"
version = "reaction_time"
T = 1100
N_batch = 20
[model]
N_rec = 20
[training]
training_iters = 2000
test_batch_size = 20
"#;
    let o = train(&dir, manifest, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["analyze", "run", "chronometric", "--trials", "15", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    // The reaction-time version's stimulus always lasts 1000 ms: no duration analysis.
    let o = psychrnn(&["analyze", "run", "duration", "--trials", "5", "-q"], &dir);
    assert!(stderr(&o).contains("the same stimulus duration (1000 ms)"), "{}", stderr(&o));
    let c = json(&dir.join("run/analysis/chronometric.json"));
    let points = c["points"].as_array().unwrap();
    let stimuli: Vec<f64> = points.iter().map(|p| p["stimulus"].as_f64().unwrap()).collect();
    assert_eq!(stimuli, vec![0.0, 1.0, 2.0, 4.0, 8.0, 16.0], "unsigned coherence (%)");
    for p in points {
        assert_eq!(p["n_trials"].as_u64(), Some(30), "both directions: {p}");
        let n = |k: &str| p[k].as_u64().unwrap();
        assert!(n("n_correct") + n("n_error") + n("n_no_decision") <= 30, "{p}");
        // Reaction times lie inside the 1000 ms stimulus.
        if let Some(rt) = p["mean_rt"].as_f64() {
            assert!(rt > 0.0 && rt <= 1000.0, "{p}");
        }
    }
    assert!(dir.join("run/analysis/chronometric.svg").is_file() && dir.join("run/analysis/chronometric.csv").is_file());
}

#[test]
fn a_trajectory_task_gets_population_analyses_and_no_choices() {
    let dir = scratch("analyze-sequence");
    let manifest = r#"
name = "seq"
preset = "pycog"
seed = 3
[task]
type = "pycog_sequence"
tau = 50
T = 3500
N_batch = 1
[model]
N_rec = 16
[metric]
type = "rmse"
[training]
continuous = true
training_iters = 20
test_batch_size = 8
"#;
    let o = train(&dir, manifest, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["analyze", "run", "--trials", "4", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.join("run/analysis");
    assert!(out.join("pca.json").is_file() && out.join("connectivity.json").is_file());
    assert!(!out.join("psychometric.json").exists() && !out.join("tuning.json").exists());
    let pca = json(&out.join("pca.json"));
    assert_eq!(pca["conditions"].as_array().unwrap().len(), 8, "one trajectory per sequence");
    let o = psychrnn(&["analyze", "run", "psychometric", "--force"], &dir);
    assert!(stderr(&o).contains("asks for no choice"), "{}", stderr(&o));
}

#[test]
fn each_area_of_a_multi_area_network_is_a_lesion_group() {
    let dir = scratch("analyze-areas");
    let manifest = r#"
name = "areas"
seed = 4
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 500
N_batch = 16
[model]
type = "basic_rnn"
N_rec = 10
dale_ratio = 0.8
[model.areas]
inputs = ["sensory"]
outputs = ["motor"]
area = [{ name = "sensory", size = 5 }, { name = "motor", size = 5 }]
projection = [{ from = "sensory", to = "motor", density = 1.0 }, { from = "motor", to = "sensory", density = 0.5 }]
[training]
training_iters = 160
test_batch_size = 16
"#;
    let o = train(&dir, manifest, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(&["analyze", "run", "lesions", "--trials", "10", "--bootstrap", "0", "-q"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let l = json(&dir.join("run/analysis/lesions.json"));
    let groups = l["groups"].as_array().unwrap();
    let units = |name: &str| -> Vec<u64> {
        let g = groups.iter().find(|g| g["group"] == name).unwrap_or_else(|| panic!("no group {name}: {l}"));
        g["units"].as_array().unwrap().iter().map(|u| u.as_u64().unwrap()).collect()
    };
    // 8 excitatory units (0-7) and 2 inhibitory (8, 9), shared out area by area.
    assert_eq!(units("area sensory"), vec![0, 1, 2, 3, 8]);
    assert_eq!(units("area motor"), vec![4, 5, 6, 7, 9]);
}

#[test]
fn fixed_points_of_a_trained_network_agree_between_both_searches() {
    let dir = scratch("analyze-fixed-points");
    let o = train(&dir, TRAINED, "run");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = psychrnn(
        &[
            "analyze",
            "run",
            "fixed_points",
            "--input",
            "0,0",
            "--input",
            "0.6,0.4",
            "--trials",
            "20",
            "--starts",
            "128",
            "--no-noise",
            "--jacobians",
            "--quiet",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.join("run/analysis");
    for f in
        ["fixed_points.json", "fixed_points.csv", "fixed_points.npz", "fixed_points.svg", "fixed_points_spectra.svg"]
    {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let j = json(&out.join("fixed_points.json"));
    let inputs = j["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    for i in inputs {
        // A ReLU network: the exact solver confirms every point of the iterative search.
        assert!(i["fixed_points"].as_u64().unwrap() >= 1, "{i}");
        assert_eq!(
            (i["exact"]["missed_by_iterative"].as_u64(), i["exact"]["iterative_not_confirmed"].as_u64()),
            (Some(0), Some(0)),
            "{i}"
        );
        assert!(i["stable"].as_u64().unwrap() >= 1, "a network that learned to choose settles somewhere: {i}");
    }
    let z = read_npz(&out.join("fixed_points.npz")).unwrap();
    let k = z.get("q").unwrap().shape[0];
    assert_eq!(z.get("points").unwrap().shape, [k, 20]);
    assert_eq!(z.get("jacobians").unwrap().shape, [k, 20, 20]);
    // J v = lambda v for the leading eigenvector of the first point, real part.
    let f64s = |key: &str| z.get(key).unwrap().to_f64().unwrap();
    let (jac, vr, vi) = (f64s("jacobians"), f64s("eigenvectors_real"), f64s("eigenvectors_imag"));
    let (lr, li) = (f64s("eigenvalues_real"), f64s("eigenvalues_imag"));
    for i in 0..20 {
        let jv: f64 = (0..20).map(|j| jac[i * 20 + j] * vr[j * 20]).sum();
        let lv = lr[0] * vr[i * 20] - li[0] * vi[i * 20];
        assert!((jv - lv).abs() < 1e-9, "row {i}: {jv} vs {lv}");
    }
    assert_eq!(z.get("eigenvalues_real").unwrap().shape, [k, 20]);
    assert_eq!(z.get("inputs").unwrap().shape, [2, 2]);
    let psychrnn_core::npz::NpyData::Strs(class) = &z.get("class").unwrap().data else { panic!("class is not text") };
    assert!(class.iter().all(|c| ["stable", "saddle", "unstable"].contains(&c.as_str())), "{class:?}");
    let psychrnn_core::npz::NpyData::F64(q) = &z.get("q").unwrap().data else { panic!() };
    assert!(q.iter().all(|&q| q < 1e-10), "{q:?}");

    // Inputs of the wrong width and models without a rate map are refused, naming them.
    let o = psychrnn(&["analyze", "run", "fixed_points", "--input", "0.5", "--force", "--quiet"], &dir);
    assert!(
        !o.status.success() && stderr(&o).contains("has 1 value(s) but the network has 2 input channel(s)"),
        "{}",
        stderr(&o)
    );
    let o = psychrnn(&["analyze", "run", "fixed_points", "--input", "0.5,x", "--force", "--quiet"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("`x` is not a number"), "{}", stderr(&o));
    let lstm = TRAINED
        .replace("type = \"basic_rnn\"\nN_rec = 20\ndale_ratio = 0.8\nrec_noise = 0.05", "type = \"lstm\"\nN_rec = 8")
        .replace("training_iters = 9600", "training_iters = 64");
    assert!(train(&dir, &lstm, "lstm").status.success());
    let o = psychrnn(&["analyze", "lstm", "fixed_points", "--quiet"], &dir);
    assert!(!o.status.success() && stderr(&o).contains("this run's model is `lstm`"), "{}", stderr(&o));
}
