use super::*;
use crate::models::basic_rnn::{BasicRnn, BasicRnnConfig};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Model, ModelContext, parse_config};

fn model(dale: Option<f64>, autapses: bool) -> BasicRnn<f32> {
    let mut c: BasicRnnConfig = psychrnn_core::parse_config(&toml::toml! { N_rec = 40 }).unwrap();
    c.dale_ratio = dale;
    c.autapses = autapses;
    BasicRnn::new(c, &ModelContext { n_in: 3, n_out: 2, alpha: 0.1, dt: 10.0, n_batch: 4 }).unwrap()
}

fn init(tag: &str, table: toml::Table, model: &BasicRnn<f32>, seed: u64) -> Result<ParamSet<f32>> {
    let (name, rule) = RULES.iter().copied().find(|(t, _)| *t == tag).unwrap();
    let i = PsychRnnInitializer::new(name, rule, parse_config(&table)?)?;
    let ctx = InitContext { specs: model.param_specs(), dale_ratio: model.dale_ratio() };
    i.initialize(&ctx, &mut stream(seed, Purpose::Init, 0))
}

fn radius(w: &Array2<f32>) -> f64 {
    let data: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    psychrnn_linalg::spectral_radius(&data, w.nrows()).unwrap()
}

#[test]
fn gaussian_spectral_radius_sets_the_raw_radius_exactly() {
    for (dale, spec_rad) in [(None, 1.1), (Some(0.8), 1.1), (None, 0.7)] {
        let m = model(dale, false);
        let mut t = toml::Table::new();
        t.insert("spec_rad".into(), toml::Value::Float(spec_rad));
        let p = init("gaussian_spectral_radius", t, &m, 3).unwrap();
        p.check_against(m.param_specs()).unwrap();
        // Exact to f32 rounding of the entries, not a power-iteration estimate.
        assert!((radius(p.get("W_rec").unwrap()) - spec_rad).abs() < 1e-5, "{dale:?}");
    }
}

#[test]
fn dale_balancing_equalises_expected_excitation_and_inhibition() {
    // After balancing (before the radius rescale, which is a common factor), inhibitory columns
    // are scaled by r / (1 - r) relative to excitatory ones: with r = 0.8 the summed inhibitory
    // magnitude onto a unit matches the excitatory one in expectation (4x fewer, 4x larger).
    let n = 400;
    let mut w = Array2::from_elem((n, n), 1.0);
    let ones = Array2::<f32>::ones((n, n));
    draws::balance_dale_ratio(&mut w, &ones, 0.8).unwrap();
    let exc: f64 = w.row(0).iter().take(320).sum();
    let inh: f64 = w.row(0).iter().skip(320).sum();
    assert!((exc - inh).abs() < 1e-9 * exc, "{exc} vs {inh}");
    assert!((w[[0, 399]] / w[[0, 0]] - 4.0).abs() < 1e-12);
}

#[test]
fn balancing_names_a_unit_without_inputs() {
    let mut w = Array2::from_elem((2, 2), 1.0);
    let mut m = Array2::<f32>::ones((2, 2));
    m.row_mut(1).fill(0.0);
    let err = draws::balance_dale_ratio(&mut w, &m, 0.5).unwrap_err().to_string();
    assert!(err.contains("unit 1 receives no connection"), "{err}");
}

#[test]
fn glorot_gauss_uses_connectivity_aware_fans() {
    let mut rng = stream(1, Purpose::User, 0);
    let w = draws::draw(RandInit::GlorotGauss, 300, 100, None, (-0.1, 0.1), &mut rng);
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!((var - 2.0 / 400.0).abs() < 0.05 * 2.0 / 400.0, "{var}");
    let u = draws::draw(RandInit::ConstUnif, 50, 50, None, (0.2, 0.3), &mut rng);
    assert!(u.iter().all(|v| (0.2..0.3).contains(v)));
    let g = draws::draw(RandInit::GlorotUnif, 50, 50, None, (0.0, 0.0), &mut rng);
    assert!(g.iter().all(|v| v.abs() < (6.0f64 / 100.0).sqrt()));
}

#[test]
fn biases_init_state_and_alpha_identity_follow_psychrnn() {
    let m = model(None, true);
    let mut t = toml::Table::new();
    t.insert("alpha".into(), toml::Value::Float(0.5));
    let p = init("alpha_identity", t, &m, 2).unwrap();
    assert_eq!(p.get("W_rec").unwrap(), &(Array2::<f32>::eye(40) * 0.5));
    assert!(p.get("b_rec").unwrap().iter().all(|&v| v == 0.0));
    let s = p.get("init_state").unwrap();
    let mean = s.mean().unwrap();
    assert!((mean - 0.1).abs() < 0.01 && s.iter().all(|v| (v - 0.1).abs() < 0.06));
}

#[test]
fn initialisation_is_seeded() {
    let m = model(Some(0.8), false);
    let a = init("gaussian_spectral_radius", toml::Table::new(), &m, 5).unwrap();
    assert_eq!(a, init("gaussian_spectral_radius", toml::Table::new(), &m, 5).unwrap());
    assert_ne!(a, init("gaussian_spectral_radius", toml::Table::new(), &m, 6).unwrap());
    let r = init("random", toml::Table::new(), &m, 5).unwrap();
    r.check_against(m.param_specs()).unwrap();
}

#[test]
fn foreign_and_missing_keys_are_named() {
    let m = model(None, true);
    let mut t = toml::Table::new();
    t.insert("alpha".into(), toml::Value::Float(0.5));
    let e = init("gaussian_spectral_radius", t, &m, 1).unwrap_err().to_string();
    assert_eq!(e, "alpha: is not a parameter of `gaussian_spectral_radius`");
    let e = init("alpha_identity", toml::Table::new(), &m, 1).unwrap_err().to_string();
    assert!(e.starts_with("alpha: missing"), "{e}");
    let mut t = toml::Table::new();
    t.insert("spec_rad".into(), toml::Value::Float(-1.0));
    assert_eq!(
        init("gaussian_spectral_radius", t, &m, 1).unwrap_err().to_string(),
        "spec_rad: must be positive, got -1"
    );
}
