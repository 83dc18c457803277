//! Weight files and simulation: PsychRNN's own files reproduce PsychRNN's outputs, our saved
//! weights simulate to the trained model's outputs, and perturbations do what they say.

use std::path::{Path, PathBuf};

use ndarray::{Array3, Axis};
use psychrnn_core::npz::{NpyData, read_npz, write_npz};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Manifest, Trajectory};
use psychrnn_rate::Simulator;
use psychrnn_rate::dynamics::{Lesion, Perturbation, Pulse};
use psychrnn_train::trainer::Silent;
use psychrnn_train::{Experiment, train};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// PsychRNN's `[B, T, N]` array from the fixture, as our time-major `[T, B, N]`.
fn time_major(key: &str) -> Array3<f32> {
    let c = read_npz(&data("pd_n50_dale_io.npz")).unwrap();
    let a = c.get(key).unwrap();
    let NpyData::F32(v) = &a.data else { panic!("{key} is not float32") };
    let batch_major = Array3::from_shape_vec((a.shape[0], a.shape[1], a.shape[2]), v.clone()).unwrap();
    batch_major.permuted_axes([1, 0, 2]).as_standard_layout().to_owned()
}

fn max_abs_diff(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn psychrnn_weights_simulate_to_psychrnn_outputs() {
    let (sim, warnings) = Simulator::from_npz(&data("pd_n50_dale_weights.npz"), Some(0.1), Some(0.0)).unwrap();
    assert!(warnings.iter().any(|w| w.contains("relu")), "{warnings:?}");
    let traj = sim.run(time_major("x").view(), None, None).unwrap();
    let (d_out, d_states) =
        (max_abs_diff(&traj.outputs, &time_major("outputs")), max_abs_diff(&traj.states, &time_major("states")));
    assert!(d_out < 1e-5 && d_states < 1e-5, "outputs differ by {d_out}, states by {d_states}");
}

#[test]
fn a_model_initialised_from_a_psychrnn_file_reproduces_psychrnn() {
    let weights = data("pd_n50_dale_weights.npz");
    let mask = |key: &str| format!("{{ file = \"{}\", key = \"{key}\" }}", weights.display());
    // The fixture was written by PsychRNN 1.0.0, whose Dale_out negates inhibitory read-outs.
    let text = format!(
        r#"
        [task]
        type = "perceptual_discrimination"
        dt = 10
        tau = 100
        T = 2000
        N_batch = 16
        [model]
        type = "basic_rnn"
        N_rec = 50
        dale_ratio = 0.8
        autapses = false
        psychrnn_1_0_compat = true
        input_connectivity = {}
        rec_connectivity = {}
        output_connectivity = {}
        [initializer]
        type = "from_file"
        path = "{}"
        "#,
        mask("input_connectivity"),
        mask("rec_connectivity"),
        mask("output_connectivity"),
        weights.display()
    );
    let manifest = Manifest::parse(&text, Path::new("m.toml")).unwrap();
    let exp =
        Experiment::from_manifest(&manifest, &psychrnn_plugins::registry().unwrap(), "t", Path::new(".")).unwrap();
    let params = psychrnn_train::trainer::initial_params(&exp).unwrap();
    let mut traj = Trajectory::default();
    exp.model.forward(&params, time_major("x").view(), None, &mut traj).unwrap();
    let d = max_abs_diff(&traj.outputs, &time_major("outputs"));
    assert!(d < 1e-5, "outputs differ by {d}");
    assert!(max_abs_diff(&traj.states, &time_major("states")) < 1e-5);
}

#[test]
fn missing_weight_files_and_arrays_are_named() {
    let text = |path: &str| {
        format!(
            "[task]\ntype = \"perceptual_discrimination\"\ndt = 10\ntau = 100\nT = 200\nN_batch = 2\n[model]\ntype = \"basic_rnn\"\nN_rec = 7\n[initializer]\ntype = \"from_file\"\npath = \"{path}\"\n"
        )
    };
    let build = |t: String| {
        let m = Manifest::parse(&t, Path::new("m.toml")).unwrap();
        Experiment::from_manifest(&m, &psychrnn_plugins::registry().unwrap(), "t", Path::new("."))
    };
    let err = build(text("/nonexistent/w.npz")).err().unwrap().to_string();
    assert!(err.contains("cannot read /nonexistent/w.npz"), "{err}");
    // The file exists but its network has 50 units, not 7.
    let exp = build(text(&data("pd_n50_dale_weights.npz").display().to_string())).unwrap();
    let err = psychrnn_train::trainer::initial_params(&exp).unwrap_err().to_string();
    assert!(err.contains("initializer.W_in") && err.contains("expected shape [7, 2], found [50, 2]"), "{err}");
}

fn trained_run(dir: &Path) -> (Experiment, psychrnn_core::ParamSet<f32>) {
    let text = r#"
        seed = 11
        [task]
        type = "delayed_discrimination"
        dt = 10
        tau = 100
        T = 600
        N_batch = 8
        [model]
        type = "basic_rnn"
        N_rec = 16
        dale_ratio = 0.75
        rec_noise = 0.05
        transfer_function = "tanh"
        [training]
        training_iters = 160
        verbosity = false
    "#;
    let manifest = Manifest::parse(text, Path::new("m.toml")).unwrap();
    let exp =
        Experiment::from_manifest(&manifest, &psychrnn_plugins::registry().unwrap(), "t", Path::new(".")).unwrap();
    let params = train(&exp, &mut Silent).unwrap().params;
    std::fs::create_dir_all(dir).unwrap();
    write_npz(&dir.join("weights.npz"), &exp.model.export(&params).unwrap()).unwrap();
    (exp, params)
}

#[test]
fn saved_weights_simulate_to_the_trained_models_outputs() {
    let dir = std::env::temp_dir().join(format!("psychrnn-sim-{}", std::process::id()));
    let (exp, params) = trained_run(&dir);
    // A batch size different from training (PsychRNN's simulator allows any).
    let batch = exp.task.generate_batch(37, &mut stream(1, Purpose::User, 0));
    let mut model = Trajectory::default();
    exp.model.forward(&params, batch.inputs.view(), None, &mut model).unwrap();
    let (sim, warnings) = Simulator::from_npz(&dir.join("weights.npz"), None, None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(sim.rec_noise, 0.05);
    let simulated = sim.run(batch.inputs.view(), None, None).unwrap();
    assert!(max_abs_diff(&model.outputs, &simulated.outputs) <= 1e-6);
    assert!(max_abs_diff(&model.states, &simulated.states) <= 1e-6);
    // With noise, the same stream gives the same trajectory as the model.
    let mut noisy = Trajectory::default();
    exp.model
        .forward(
            &params,
            batch.inputs.view(),
            Some(&mut psychrnn_core::Noise::from(stream(2, Purpose::User, 0))),
            &mut noisy,
        )
        .unwrap();
    let sim_noisy =
        sim.run(batch.inputs.view(), Some(&mut psychrnn_core::Noise::from(stream(2, Purpose::User, 0))), None).unwrap();
    assert!(max_abs_diff(&noisy.outputs, &sim_noisy.outputs) <= 1e-6);
    assert!(max_abs_diff(&noisy.outputs, &model.outputs) > 1e-4, "noise had no effect");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn perturbations_lesion_ablate_and_pulse() {
    let dir = std::env::temp_dir().join(format!("psychrnn-perturb-{}", std::process::id()));
    let (exp, _) = trained_run(&dir);
    let (sim, _) = Simulator::from_npz(&dir.join("weights.npz"), None, None).unwrap();
    let batch = exp.task.generate_batch(5, &mut stream(3, Purpose::User, 0));
    let t_steps = batch.n_steps();
    let base = sim.run(batch.inputs.view(), None, None).unwrap();

    // A multiplier of ones changes nothing; zeros remove recurrence (= W_rec = 0).
    let ones = Perturbation { rec_multiplier: Some(Array3::ones((t_steps, 16, 16))), ..Default::default() };
    assert_eq!(sim.run(batch.inputs.view(), None, Some(&ones)).unwrap().outputs, base.outputs);
    let zeros = Perturbation { rec_multiplier: Some(Array3::zeros((t_steps, 16, 16))), ..Default::default() };
    let mut no_rec = sim.clone();
    no_rec.w_rec.fill(0.0);
    assert_eq!(
        sim.run(batch.inputs.view(), None, Some(&zeros)).unwrap().states,
        no_rec.run(batch.inputs.view(), None, None).unwrap().states
    );

    // A lesion silences its units from its step on, and nothing before.
    let lesion = Perturbation { lesions: vec![Lesion { units: vec![0, 3], from_step: 20 }], ..Default::default() };
    let lesioned = sim.run(batch.inputs.view(), None, Some(&lesion)).unwrap();
    assert_eq!(lesioned.states.slice(ndarray::s![..20, .., ..]), base.states.slice(ndarray::s![..20, .., ..]));
    for t in 20..t_steps {
        for u in [0, 3] {
            assert!(lesioned.states.index_axis(Axis(0), t).column(u).iter().all(|&v| v == 0.0));
            assert!(lesioned.rates.index_axis(Axis(0), t).column(u).iter().all(|&v| v == 0.0));
        }
    }
    assert_ne!(lesioned.outputs, base.outputs);

    // A pulse first changes the pulsed unit at its first step.
    let pulse = Perturbation {
        pulses: vec![Pulse { units: vec![5], start_step: 10, end_step: 15, amplitude: 2.0 }],
        ..Default::default()
    };
    let pulsed = sim.run(batch.inputs.view(), None, Some(&pulse)).unwrap();
    assert_eq!(pulsed.states.slice(ndarray::s![..10, .., ..]), base.states.slice(ndarray::s![..10, .., ..]));
    let jump = pulsed.states[[10, 0, 5]] - base.states[[10, 0, 5]];
    assert!((jump - 0.1 * 2.0).abs() < 1e-6, "pulse adds alpha * amplitude, got {jump}");

    // Bad perturbations are named.
    let bad = Perturbation { rec_multiplier: Some(Array3::ones((3, 16, 16))), ..Default::default() };
    let err = sim.run(batch.inputs.view(), None, Some(&bad)).unwrap_err().to_string();
    assert!(err.starts_with("rec_multiplier: expected shape [60, 16, 16]"), "{err}");
    let bad = Perturbation { lesions: vec![Lesion { units: vec![16], from_step: 0 }], ..Default::default() };
    assert_eq!(
        sim.run(batch.inputs.view(), None, Some(&bad)).unwrap_err().to_string(),
        "lesion: unit 16 does not exist (the network has 16 units)"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_npz_reader_reads_a_psychrnn_written_file() {
    let path = data("pd_n50_dale_weights.npz");
    let c = read_npz(&path).unwrap();
    assert_eq!(c.get("W_rec").unwrap().shape, vec![50, 50]);
    assert_eq!(c.get("W_in").unwrap().shape, vec![50, 2]);
    assert_eq!(c.get("dale_ratio").unwrap().data, NpyData::F64(vec![0.8]));
    assert!(c.get("W_rec/Adam").is_some());
    assert!(c.skipped.is_empty(), "{:?}", c.skipped);
}
