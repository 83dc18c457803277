//! Finite-difference checks of the hand-written BPTT, in f64, for every raw parameter.

use super::*;
use crate::loss::{Loss, LossConfig, LossKind};
use crate::regularizers::{WeightCoefficients, WeightPenalty, firing_rate};
use ndarray::Array3;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::testing::check_gradients;
use psychrnn_core::{BatchView, LossFunction, MatrixSpec, Real, Regularizer};
use rand::RngExt;

const N_IN: usize = 2;
const N_OUT: usize = 2;
const N_REC: usize = 6;
const STEPS: usize = 7;
const BATCH: usize = 3;
/// Central differences with h = 1e-6 in f64 agree with the analytic gradient to ~1e-8.
const TOLERANCE: (f64, f64, f64) = (1e-6, 1e-5, 1e-8);

fn config() -> BasicRnnConfig {
    psychrnn_core::parse_config(&toml::toml! { N_rec = 6 }).unwrap()
}

fn ctx() -> ModelContext {
    ModelContext { n_in: N_IN, n_out: N_OUT, alpha: 0.2, dt: 10.0, n_batch: 3 }
}

fn random_mask(rows: usize, cols: usize, seed: u64) -> MatrixSpec {
    let mut rng = stream(seed, Purpose::User, 1);
    MatrixSpec::Inline(
        (0..rows).map(|_| (0..cols).map(|_| f64::from(u8::from(rng.random::<f64>() < 0.7))).collect()).collect(),
    )
}

/// Random raw parameters (both signs, so Dale's abs() is exercised) and a random batch.
fn fixture(model: &BasicRnn<f64>, seed: u64) -> (ParamSet<f64>, Array3<f64>, Array3<f64>, Array3<f64>) {
    let mut rng = stream(seed, Purpose::User, 0);
    let mut params = ParamSet::new();
    for s in model.param_specs() {
        params.insert(
            s.name.clone(),
            Array2::from_shape_simple_fn((s.rows, s.cols), || 0.6 * f64::standard_normal(&mut rng)),
        );
    }
    let inputs = Array3::from_shape_simple_fn((STEPS, BATCH, N_IN), || f64::standard_normal(&mut rng));
    let targets = Array3::from_shape_simple_fn((STEPS, BATCH, N_OUT), || rng.random::<f64>());
    let mask = Array3::from_shape_simple_fn((STEPS, BATCH, N_OUT), || f64::from(u8::from(rng.random::<f64>() < 0.6)));
    (params, inputs, targets, mask)
}

fn check(model: &BasicRnn<f64>, loss: &dyn LossFunction<f64>, regs: &[Box<dyn Regularizer<f64>>], noise: Option<u64>) {
    let (params, inputs, targets, mask) = fixture(model, 17);
    let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
    let report = check_gradients(model, loss, regs, &params, batch, noise, &[], TOLERANCE).unwrap();
    let n_params: usize = params.iter().map(|(_, a)| a.len()).sum();
    assert_eq!(report.checked, n_params);
    assert!(report.total_abs_gradient > 1e-3, "the gradient is (almost) zero: the check would prove nothing");
}

fn mse() -> Loss {
    Loss::new(LossKind::MeanSquaredError, LossConfig::default())
}

#[test]
fn gradient_without_constraints_with_noise() {
    let mut c = config();
    c.rec_noise = 0.3;
    check(&BasicRnn::new(c, &ctx()).unwrap(), &mse(), &[], Some(5));
}

#[test]
fn gradient_with_dale_masks_and_no_autapses() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    c.autapses = false;
    c.input_connectivity = Some(random_mask(N_REC, N_IN, 1));
    c.rec_connectivity = Some(random_mask(N_REC, N_REC, 2));
    c.output_connectivity = Some(random_mask(N_OUT, N_REC, 3));
    check(&BasicRnn::new(c, &ctx()).unwrap(), &mse(), &[], None);
}

#[test]
fn gradient_with_psychrnn_1_0_dale_out() {
    let mut c = config();
    c.dale_ratio = Some(0.67);
    c.psychrnn_1_0_compat = true;
    check(&BasicRnn::new(c, &ctx()).unwrap(), &mse(), &[], None);
}

#[test]
fn gradient_for_every_transfer_function() {
    for f in TransferFunction::ALL {
        let mut c = config();
        c.transfer_function = f;
        c.dale_ratio = Some(0.5);
        check(&BasicRnn::new(c, &ctx()).unwrap(), &mse(), &[], Some(3));
    }
}

#[test]
fn gradient_with_pycog_mask_sum_normalisation() {
    let loss = Loss::new(LossKind::MeanSquaredError, LossConfig { normalize: crate::loss::Normalize::MaskSum });
    check(&BasicRnn::new(config(), &ctx()).unwrap(), &loss, &[], None);
}

#[test]
fn gradient_of_binary_cross_entropy() {
    // Sigmoid rates and small read-out weights keep outputs inside BCE's (0, 1) clip range.
    let mut c = config();
    c.transfer_function = TransferFunction::Sigmoid;
    let model = BasicRnn::new(c, &ctx()).unwrap();
    let (mut params, inputs, targets, mask) = fixture(&model, 17);
    params.get_mut("W_out").unwrap().mapv_inplace(|w| 0.1 * w);
    params.get_mut("b_out").unwrap().fill(0.5);
    let loss = Loss::new(LossKind::BinaryCrossEntropy, LossConfig::default());
    let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
    let report = check_gradients(&model, &loss, &[], &params, batch, None, &[], TOLERANCE).unwrap();
    assert!(report.total_abs_gradient > 1e-3);
}

#[test]
fn gradient_of_every_regularizer_with_dale() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    c.transfer_function = TransferFunction::Tanh;
    let model = BasicRnn::new(c, &ctx()).unwrap();
    let coefficients = |v: f64| {
        WeightCoefficients(
            [("W_in".to_string(), v), ("W_rec".to_string(), 2.0 * v), ("W_out".to_string(), 3.0 * v)].into(),
        )
    };
    let cases: Vec<Vec<Box<dyn Regularizer<f64>>>> = vec![
        vec![Box::new(WeightPenalty::new(1, coefficients(0.5)).unwrap())],
        vec![Box::new(WeightPenalty::new(2, coefficients(0.5)).unwrap())],
        vec![Box::new(firing_rate(0.7))],
    ];
    for regs in cases {
        check(&model, &mse(), &regs, Some(9));
    }
}

#[test]
fn regularizer_gradient_alone_matches_finite_differences() {
    // With a zero mask the loss vanishes, so the check isolates the penalties.
    let model = BasicRnn::new(config(), &ctx()).unwrap();
    let (params, inputs, targets, _) = fixture(&model, 4);
    let mask = Array3::zeros(targets.raw_dim());
    let regs: Vec<Box<dyn Regularizer<f64>>> = vec![
        Box::new(WeightPenalty::new(1, WeightCoefficients([("W_rec".to_string(), 1.0)].into())).unwrap()),
        Box::new(firing_rate(1.0)),
    ];
    let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
    let report = check_gradients(&model, &mse(), &regs, &params, batch, None, &[], TOLERANCE).unwrap();
    assert!(report.total_abs_gradient > 1e-3);
}

#[test]
fn forward_matches_the_equations_step_by_step() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    let model = BasicRnn::<f64>::new(c, &ctx()).unwrap();
    let (params, inputs, _, _) = fixture(&model, 8);
    let mut traj = Trajectory::default();
    model.forward(&params, inputs.view(), None, &mut traj).unwrap();
    let eff = model.effective_weights(&params).unwrap();
    let (wi, wr, wo) = (eff.get("W_in").unwrap(), eff.get("W_rec").unwrap(), eff.get("W_out").unwrap());
    let relu = |a: &Array2<f64>| a.mapv(|v| v.max(0.0));
    for b in 0..BATCH {
        let mut x = params.get("init_state").unwrap().clone();
        for t in 0..STEPS {
            let u = inputs.slice(ndarray::s![t, b..b + 1, ..]).to_owned();
            x = &x * 0.8 + (relu(&x).dot(&wr.t()) + u.dot(&wi.t()) + params.get("b_rec").unwrap()) * 0.2;
            let z = relu(&x).dot(&wo.t()) + params.get("b_out").unwrap();
            for i in 0..N_REC {
                assert!((traj.states[[t, b, i]] - x[[0, i]]).abs() < 1e-12);
            }
            for k in 0..N_OUT {
                assert!((traj.outputs[[t, b, k]] - z[[0, k]]).abs() < 1e-12);
            }
        }
    }
    // Dale: excitatory columns non-negative, inhibitory non-positive; W_in non-negative; the
    // inhibitory units (HEAD semantics) do not project to the output.
    assert!(wr.columns().into_iter().take(3).all(|c| c.iter().all(|&v| v >= 0.0)));
    assert!(wr.columns().into_iter().skip(3).all(|c| c.iter().all(|&v| v <= 0.0)));
    assert!(wi.iter().all(|&v| v >= 0.0));
    assert!(wo.columns().into_iter().skip(3).all(|c| c.iter().all(|&v| v == 0.0)));
}

#[test]
fn recurrent_noise_has_the_psychrnn_variance() {
    // With zero weights and biases, x_1 = (1 - alpha) x_0 + sqrt(2 alpha sigma^2) xi.
    let mut c = config();
    c.N_rec = 200;
    c.rec_noise = 0.5;
    let model = BasicRnn::<f64>::new(c, &ctx()).unwrap();
    let params = ParamSet::zeros(model.param_specs());
    let inputs = Array3::zeros((1, 50, N_IN));
    let mut traj = Trajectory::default();
    model
        .forward(&params, inputs.view(), Some(&mut psychrnn_core::Noise::from(stream(1, Purpose::User, 0))), &mut traj)
        .unwrap();
    let var = traj.states.iter().map(|v| v * v).sum::<f64>() / traj.states.len() as f64;
    let want = 2.0 * 0.2 * 0.25;
    assert!((var - want).abs() < 0.05 * want, "variance {var}, expected {want}");
}

#[test]
fn invalid_values_and_shapes_are_named() {
    let err = |f: &dyn Fn(&mut BasicRnnConfig)| {
        let mut c = config();
        f(&mut c);
        BasicRnn::<f32>::new(c, &ctx()).err().unwrap().to_string()
    };
    assert_eq!(err(&|c| c.dale_ratio = Some(1.5)), "dale_ratio: must lie in [0, 1], got 1.5");
    assert_eq!(err(&|c| c.N_rec = 0), "N_rec: must be at least 1, got 0");
    assert_eq!(err(&|c| c.rec_noise = -0.1), "rec_noise: must be >= 0, got -0.1");
    assert_eq!(
        err(&|c| c.rec_connectivity = Some(random_mask(3, 3, 0))),
        "rec_connectivity: expected shape [6, 6] (N_rec x N_rec), found [3, 3]"
    );
    assert_eq!(
        err(&|c| c.input_connectivity = Some(random_mask(6, 3, 0))),
        "input_connectivity: expected shape [6, 2] (N_rec x N_in), found [6, 3]"
    );
}

#[test]
fn export_uses_psychrnn_keys_and_effective_weights() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    c.autapses = false;
    let model = BasicRnn::<f32>::new(c, &ctx()).unwrap();
    let mut params = ParamSet::<f32>::zeros(model.param_specs());
    params.get_mut("W_rec").unwrap().fill(-1.0);
    let arrays = model.export(&params).unwrap();
    let names: Vec<&str> = arrays.iter().map(|a| a.name.as_str()).collect();
    for key in [
        "W_in",
        "W_rec",
        "W_out",
        "b_rec",
        "b_out",
        "init_state",
        "Dale_rec",
        "Dale_out",
        "input_connectivity",
        "rec_connectivity",
        "output_connectivity",
        "dale_ratio",
    ] {
        assert!(names.contains(&key), "{key} missing");
    }
    let w_rec = arrays.iter().find(|a| a.name == "W_rec").unwrap();
    let psychrnn_core::npz::NpyData::F32(v) = &w_rec.data else { panic!("W_rec is not f32") };
    // |−1| * D: +1 in excitatory columns, −1 in inhibitory ones, 0 on the diagonal (no autapses).
    assert_eq!(v[0], 0.0);
    assert_eq!(v[1], 1.0);
    assert_eq!(v[5], -1.0);
    assert_eq!(arrays.iter().find(|a| a.name == "b_rec").unwrap().shape, vec![6]);
}

/// A random fixed-value matrix (PyCog's `Cfixed`), zero where `mask` has plastic entries half
/// of the time.
fn random_values(rows: usize, cols: usize, seed: u64) -> MatrixSpec {
    let mut rng = stream(seed, Purpose::User, 2);
    MatrixSpec::Inline(
        (0..rows)
            .map(|_| {
                (0..cols).map(|_| if rng.random::<f64>() < 0.5 { 0.3 * rng.random::<f64>() } else { 0.0 }).collect()
            })
            .collect(),
    )
}

#[test]
fn gradient_with_pycog_rectified_dale_fixed_parts_and_per_unit_tau() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    c.autapses = false;
    c.positive_function = PositiveFunction::Rectify;
    c.rec_connectivity = Some(random_mask(N_REC, N_REC, 4));
    c.W_rec_fixed = Some(random_values(N_REC, N_REC, 5));
    c.W_in_fixed = Some(random_values(N_REC, N_IN, 6));
    c.tau = Some(vec![50.0, 100.0, 20.0, 80.0, 40.0, 60.0]);
    c.rec_noise = 0.2;
    check(&BasicRnn::new(c, &ctx()).unwrap(), &mse(), &[], Some(2));
}

#[test]
fn per_unit_tau_sets_each_units_leak() {
    // With zero weights, x_1 = (1 - dt/tau_j) x_0 for every unit j.
    let mut c = config();
    c.tau = Some(vec![10.0, 20.0, 40.0, 50.0, 100.0, 200.0]);
    let model = BasicRnn::<f64>::new(c, &ctx()).unwrap();
    let mut params = ParamSet::zeros(model.param_specs());
    params.get_mut("init_state").unwrap().fill(1.0);
    let mut traj = Trajectory::default();
    model.forward(&params, Array3::zeros((1, 1, N_IN)).view(), None, &mut traj).unwrap();
    let want = [0.0, 0.5, 0.75, 0.8, 0.9, 0.95];
    for (j, w) in want.iter().enumerate() {
        assert!((traj.states[[0, 0, j]] - w).abs() < 1e-12);
    }
    let mut c = config();
    c.tau = Some(vec![100.0; 3]);
    let err = BasicRnn::<f64>::new(c, &ctx()).err().unwrap().to_string();
    assert_eq!(err, "tau: expected shape 6 values (N_rec), found 3");
}

#[test]
fn a_given_start_state_continues_the_previous_trial_exactly() {
    // Running T1 + T2 steps at once equals running T1, then T2 from where it ended (PyCog's
    // continuous mode); the initial state then gets no gradient.
    let model = BasicRnn::<f64>::new(config(), &ctx()).unwrap();
    let (params, inputs, targets, mask) = fixture(&model, 21);
    let mut whole = Trajectory::default();
    model.forward(&params, inputs.view(), None, &mut whole).unwrap();
    let mut first = Trajectory::default();
    model.forward(&params, inputs.slice(ndarray::s![..3, .., ..]), None, &mut first).unwrap();
    let mut second =
        Trajectory { start: Some(first.states.index_axis(ndarray::Axis(0), 2).to_owned()), ..Default::default() };
    model.forward(&params, inputs.slice(ndarray::s![3.., .., ..]), None, &mut second).unwrap();
    let diff = (&whole.states.slice(ndarray::s![3.., .., ..]) - &second.states).mapv(f64::abs).sum();
    assert!(diff < 1e-12, "difference {diff}");

    let mut buffers = psychrnn_core::ObjectiveBuffers::default();
    buffers.trajectory.start = second.start.clone();
    let batch = BatchView {
        inputs: inputs.slice(ndarray::s![3.., .., ..]),
        targets: targets.slice(ndarray::s![3.., .., ..]),
        mask: mask.slice(ndarray::s![3.., .., ..]),
    };
    psychrnn_core::evaluate_objective(&model, &mse(), &[], &params, batch, None, &mut buffers, true).unwrap();
    assert!(buffers.grads.get("init_state").unwrap().iter().all(|&g| g == 0.0));
    assert!(buffers.grads.get("W_rec").unwrap().iter().any(|&g| g != 0.0));
}

#[test]
fn omega_adds_its_immediate_gradient_through_the_dale_transform() {
    let mut c = config();
    c.dale_ratio = Some(0.5);
    c.positive_function = PositiveFunction::Rectify;
    let model = BasicRnn::<f64>::new(c, &ctx()).unwrap();
    let (params, inputs, targets, mask) = fixture(&model, 22);
    let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
    let mut plain = psychrnn_core::ObjectiveBuffers::default();
    psychrnn_core::evaluate_objective(&model, &mse(), &[], &params, batch, None, &mut plain, true).unwrap();

    // The same backward with the Omega request, by hand.
    let d_out = {
        let mut d = Array3::zeros(plain.trajectory.outputs.raw_dim());
        mse().loss(plain.trajectory.outputs.view(), targets.view(), mask.view(), d.view_mut());
        d
    };
    let mut request = psychrnn_core::OmegaRequest { lambda: 2.0, bound: 1e-20, value: None };
    let seeds = BackwardSeeds { d_outputs: d_out.view(), d_rates: None, d_effective: None, omega: Some(&mut request) };
    let mut grads = params.zeros_like();
    model.backward(&params, inputs.view(), &plain.trajectory, seeds, &mut grads).unwrap();
    let value = request.value.expect("the model reports Omega");
    assert!(value > 0.0);
    let extra = grads.get("W_rec").unwrap() - plain.grads.get("W_rec").unwrap();
    assert!(extra.iter().any(|&g| g.abs() > 1e-9));
    // Everything but W_rec is untouched.
    for name in ["W_in", "W_out", "b_rec", "b_out", "init_state"] {
        assert_eq!(grads.get(name), plain.grads.get(name), "{name}");
    }
}

#[test]
fn areas_build_the_three_masks_and_refuse_conflicting_settings() {
    let build = |text: &str| {
        let c: BasicRnnConfig = psychrnn_core::parse_config(&text.parse::<toml::Table>().unwrap()).unwrap();
        BasicRnn::<f64>::new(c, &ctx())
    };
    let two_areas = r#"N_rec = 10
        dale_ratio = 0.8
        autapses = false
        [areas]
        inputs = ["a"]
        outputs = ["b"]
        area = [{ name = "a", size = 5 }, { name = "b", size = 5 }]
        projection = [{ from = "a", to = "b" }]
    "#;
    let m = build(two_areas).unwrap();
    let layout: psychrnn_rate::areas::AreaLayout = toml::from_str(
        r#"inputs = ["a"]
        outputs = ["b"]
        area = [{ name = "a", size = 5 }, { name = "b", size = 5 }]
        projection = [{ from = "a", to = "b" }]"#,
    )
    .unwrap();
    let mut expected = layout.build(10, N_IN, N_OUT, 0.8).unwrap();
    expected.rec.diag_mut().fill(0.0);
    let specs = m.param_specs();
    assert_eq!(specs[0].connectivity.as_ref(), Some(&expected.input));
    assert_eq!(specs[1].connectivity.as_ref(), Some(&expected.rec));
    assert_eq!(specs[2].connectivity.as_ref(), Some(&expected.output));
    // Units 0..4 (E of a), 8..9 (I of a) receive inputs; E of b (4..8) is read out.
    assert_eq!(expected.input.column(0).to_vec(), [1., 1., 1., 1., 0., 0., 0., 0., 1., 0.]);
    assert_eq!(expected.rec[[4, 8]], 0.0, "inhibition of area a must stay in a");

    let err = |text: &str| build(text).err().unwrap().to_string();
    assert!(err(&two_areas.replace("dale_ratio = 0.8", "")).contains("areas need Dale's principle"));
    let both = two_areas.replace("[areas]", "rec_connectivity = { fill = 1, blocks = [] }\n[areas]");
    assert!(err(&both).starts_with("rec_connectivity: give either `areas` or the connectivity masks"));
    assert!(
        err(&two_areas.replace("size = 5 }]", "size = 6 }]")).starts_with("areas.area: the area sizes add up to 11")
    );
}

#[test]
fn gradient_with_sparse_two_area_connectivity() {
    let c: BasicRnnConfig = psychrnn_core::parse_config(
        &r#"N_rec = 10
        dale_ratio = 0.8
        positive_function = "rectify"
        [areas]
        inputs = ["a"]
        area = [{ name = "a", size = 5, p_exc = 0.7 }, { name = "b", size = 5 }]
        projection = [{ from = "a", to = "b", density = 0.5 }, { from = "b", to = "a", density = 0.5 }]
    "#
        .parse::<toml::Table>()
        .unwrap(),
    )
    .unwrap();
    check(&BasicRnn::<f64>::new(c, &ctx()).unwrap(), &mse(), &[], Some(3));
}
