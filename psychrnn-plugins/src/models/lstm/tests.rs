//! Finite-difference checks of the LSTM's backward, and its equations step by step.

use super::*;
use crate::loss::{Loss, LossConfig, LossKind};
use crate::regularizers::firing_rate;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::testing::check_gradients;
use psychrnn_core::{BatchView, Regularizer};
use rand::RngExt;

fn model(n_batch: usize) -> Lstm<f64> {
    Lstm::new(LstmConfig { N_rec: 5 }, &ModelContext { n_in: 3, n_out: 2, alpha: 0.1, dt: 10.0, n_batch }).unwrap()
}

fn fixture(m: &Lstm<f64>, batch: usize) -> (ParamSet<f64>, Array3<f64>, Array3<f64>, Array3<f64>) {
    let mut rng = stream(21, Purpose::User, 0);
    let mut params = ParamSet::new();
    for s in m.param_specs() {
        params.insert(
            s.name.clone(),
            Array2::from_shape_simple_fn((s.rows, s.cols), || 0.7 * f64::standard_normal(&mut rng)),
        );
    }
    let inputs = Array3::from_shape_simple_fn((6, batch, 3), || f64::standard_normal(&mut rng));
    let targets = Array3::from_shape_simple_fn((6, batch, 2), || rng.random::<f64>());
    let mask = Array3::from_shape_simple_fn((6, batch, 2), || f64::from(u8::from(rng.random::<f64>() < 0.7)));
    (params, inputs, targets, mask)
}

#[test]
fn gradient_matches_finite_differences_for_every_parameter() {
    // A batch larger than N_batch exercises the row-sharing of the initial states.
    for (n_batch, batch) in [(3, 3), (2, 5)] {
        let m = model(n_batch);
        let (params, inputs, targets, mask) = fixture(&m, batch);
        let loss = Loss::new(LossKind::MeanSquaredError, LossConfig::default());
        let regs: Vec<Box<dyn Regularizer<f64>>> = vec![Box::new(firing_rate(0.5))];
        let view = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
        let report = check_gradients(&m, &loss, &regs, &params, view, None, &[], (1e-6, 1e-5, 1e-8)).unwrap();
        assert_eq!(report.checked, params.iter().map(|(_, a)| a.len()).sum::<usize>());
        assert!(report.total_abs_gradient > 1e-3);
    }
}

#[test]
fn forward_follows_psychrnn_equations() {
    let m = model(2);
    let (params, inputs, _, _) = fixture(&m, 2);
    let mut traj = Trajectory::default();
    m.forward(&params, inputs.view(), None, &mut traj).unwrap();
    let p = |k: &str| params.get(k).unwrap().clone();
    let sig = |a: &Array2<f64>| a.mapv(|x| 1.0 / (1.0 + (-x).exp()));
    for b in 0..2 {
        let mut h = p("init_hidden").slice(s![b..b + 1, ..]).to_owned();
        let mut c = p("init_cell").slice(s![b..b + 1, ..]).to_owned();
        for t in 0..6 {
            let v = ndarray::concatenate![Axis(1), h, inputs.slice(s![t, b..b + 1, ..])];
            let f = sig(&(v.dot(&p("W_f")) + p("b_f")));
            let i = sig(&(v.dot(&p("W_i")) + p("b_i")));
            let g = (v.dot(&p("W_c")) + p("b_c")).mapv(f64::tanh);
            let o = sig(&(v.dot(&p("W_o")) + p("b_o")));
            c = &f * &c + &i * &g;
            h = &o * &sig(&c);
            let z = h.dot(&p("W_out").t()) + p("b_out");
            for j in 0..5 {
                assert!((traj.states[[t, b, j]] - h[[0, j]]).abs() < 1e-12);
            }
            for k in 0..2 {
                assert!((traj.outputs[[t, b, k]] - z[[0, k]]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn default_initialisation_follows_psychrnn() {
    let m = Lstm::<f32>::new(
        LstmConfig { N_rec: 30 },
        &ModelContext { n_in: 2, n_out: 2, alpha: 0.1, dt: 10.0, n_batch: 8 },
    )
    .unwrap();
    let init = psychrnn_core::registry::construct::<crate::init::GaussianSpectralRadius>(
        &toml::Table::new(),
        (),
        &BuildContext::default(),
    )
    .unwrap()
    .object;
    let ctx = psychrnn_core::InitContext { specs: m.param_specs(), dale_ratio: None };
    let p = init.initialize(&ctx, &mut stream(1, Purpose::Init, 0)).unwrap();
    assert_eq!(p.get("init_hidden").unwrap().shape(), [8, 30]);
    assert!(p.get("b_f").unwrap().iter().all(|&v| v == 1.0));
    let w = p.get("W_c").unwrap();
    let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
    assert!((std - 0.1).abs() < 0.01, "W_c std {std}");
}
