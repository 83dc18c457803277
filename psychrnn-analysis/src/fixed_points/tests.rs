//! Networks whose fixed points are known in closed form, found completely by both searches
//! with the right stability.

use ndarray::{Array1, Array2, array};
use psychrnn_core::model::TransferFunction;

use super::*;

fn map(w: &Array2<f64>, b: &Array1<f64>, transfer: TransferFunction) -> RateMap {
    rate_map::autonomous(w, b, 0.1, transfer)
}

/// States spread over `[-2, 2]^n` (a grid), to start from.
fn spread(n: usize) -> Array2<f64> {
    let values = [-2.0, -0.7, 0.3, 1.5];
    let count = values.len().pow(n as u32);
    Array2::from_shape_fn((count, n), |(r, j)| values[(r / values.len().pow(j as u32)) % values.len()])
}

fn options() -> FixedPointOptions {
    FixedPointOptions { n_starts: 256, start_noise: 0.3, ..FixedPointOptions::default() }
}

/// The fixed points as (rounded coordinates, stability, unstable directions, found by).
fn census(found: &FixedPoints) -> Vec<(Vec<f64>, Stability, usize, FoundBy)> {
    let mut out: Vec<_> = found
        .fixed
        .iter()
        .map(|p| {
            let x: Vec<f64> = p.x.iter().map(|v| (v * 1e6).round() / 1e6).collect();
            (x, p.linearisation.stability, p.linearisation.n_unstable, p.found_by)
        })
        .collect();
    out.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    out
}

#[test]
fn a_linear_network_has_one_fixed_point_found_by_both_searches() {
    let (w, b) = (array![[0.5, -0.3], [0.2, 0.4]], array![1.0, -1.0]);
    let found = find_fixed_points(&map(&w, &b, TransferFunction::Linear), spread(2).view(), &options()).unwrap();
    // (I - W) x = b: x = [1.052632, -1.315789].
    let a = &Array2::<f64>::eye(2) - &w;
    let x = psychrnn_linalg::solve(&a.iter().copied().collect::<Vec<_>>(), &[1.0, -1.0], 2).unwrap().unwrap();
    assert_eq!(found.fixed.len(), 1, "{found:?}");
    assert!(same(found.fixed[0].x.view(), Array1::from(x).view(), 1e-6));
    assert_eq!((found.fixed[0].found_by, found.fixed[0].linearisation.stability), (FoundBy::Both, Stability::Stable));
    assert_eq!(found.exact.as_ref().map(|e| e.missed_by_iterative), Some(0));
}

#[test]
fn two_units_inhibiting_each_other_are_a_switch_two_attractors_and_a_saddle() {
    // x = -2 relu(x_other) + 1: (1, -1) and (-1, 1) stable; (1/3, 1/3) a saddle with one
    // unstable direction (the eigenvalues of W are +-2: 1 + alpha and 1 - 3 alpha).
    let (w, b) = (array![[0.0, -2.0], [-2.0, 0.0]], array![1.0, 1.0]);
    let found = find_fixed_points(&map(&w, &b, TransferFunction::Relu), spread(2).view(), &options()).unwrap();
    let third = (1e6f64 / 3.0).round() / 1e6;
    assert_eq!(
        census(&found),
        [
            (vec![-1.0, 1.0], Stability::Stable, 0, FoundBy::Both),
            (vec![third, third], Stability::Saddle, 1, FoundBy::Both),
            (vec![1.0, -1.0], Stability::Stable, 0, FoundBy::Both),
        ]
    );
    let saddle = found.fixed.iter().find(|p| p.linearisation.n_unstable == 1).unwrap();
    let eig: Vec<f64> = saddle.linearisation.eigenvalues.iter().map(|z| z.0).collect();
    assert!((eig[0] - 1.1).abs() < 1e-12 && (eig[1] - 0.7).abs() < 1e-12, "{eig:?}");
}

#[test]
fn three_units_in_winner_take_all_have_seven_fixed_points() {
    // x = -2 sum_{j != i} relu(x_j) + 1: one winner (3 attractors: x_k = 1, others -1), two
    // winners (3 saddles with one unstable direction: 1/3, 1/3, -1/3), all three (1/5 each:
    // eigenvalues of W are -4 and 2, 2: two unstable directions).
    let w = Array2::from_shape_fn((3, 3), |(i, j)| if i == j { 0.0 } else { -2.0 });
    let b = Array1::ones(3);
    let found = find_fixed_points(&map(&w, &b, TransferFunction::Relu), spread(3).view(), &options()).unwrap();
    let c = census(&found);
    assert_eq!(c.len(), 7, "{c:?}");
    let count = |k: usize| c.iter().filter(|p| p.2 == k).count();
    assert_eq!((count(0), count(1), count(2)), (3, 3, 1), "{c:?}");
    assert!(c.iter().all(|p| p.3 == FoundBy::Both), "both searches find every point: {c:?}");
    let all = found.fixed.iter().find(|p| p.linearisation.n_unstable == 2).unwrap();
    assert!(all.x.iter().all(|v| (v - 0.2).abs() < 1e-9) && all.linearisation.stability == Stability::Saddle);
    let winner = found.fixed.iter().find(|p| p.linearisation.n_unstable == 0).unwrap();
    assert!(winner.x.iter().filter(|v| (*v - 1.0).abs() < 1e-9).count() == 1);
}

#[test]
fn a_tanh_unit_with_self_excitation_has_two_attractors_and_an_unstable_point() {
    // x = 2 tanh(x): 0 (unstable, slope 2 > 1) and +-x* with x* = 2 tanh(x*) (stable).
    let (w, b) = (array![[2.0]], array![0.0]);
    let mut x_star = 2.0f64;
    for _ in 0..200 {
        x_star = 2.0 * x_star.tanh();
    }
    let states = array![[-3.0], [-1.0], [-0.05], [0.05], [1.0], [3.0]];
    let opts = FixedPointOptions { start_noise: 0.0, ..options() };
    let found = find_fixed_points(&map(&w, &b, TransferFunction::Tanh), states.view(), &opts).unwrap();
    assert!(found.exact.is_none(), "tanh is not piecewise linear");
    let mut xs: Vec<(f64, Stability)> = found.fixed.iter().map(|p| (p.x[0], p.linearisation.stability)).collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(xs.len(), 3, "{xs:?}");
    assert!((xs[0].0 + x_star).abs() < 1e-5 && (xs[2].0 - x_star).abs() < 1e-5 && xs[1].0.abs() < 1e-5, "{xs:?}");
    assert_eq!([xs[0].1, xs[1].1, xs[2].1], [Stability::Stable, Stability::Unstable, Stability::Stable]);
}

#[test]
fn slow_points_are_kept_apart_from_fixed_points() {
    // x' = x + alpha (x + 0.001 - x) ... a drive too small to vanish: one unit with W = 1 and
    // b = 1e-4 has no fixed point, only a slow drift (q = (alpha b)^2 / 2 = 5e-11 everywhere).
    let (w, b) = (array![[1.0]], array![1e-4]);
    let opts = FixedPointOptions { fixed_q: 1e-12, slow_q: 1e-9, ..options() };
    let found = find_fixed_points(&map(&w, &b, TransferFunction::Linear), spread(1).view(), &opts).unwrap();
    assert!(found.fixed.is_empty(), "{:?}", found.fixed);
    assert!(!found.slow.is_empty() && found.slow.iter().all(|s| (s.q - 5e-11).abs() < 1e-15), "{:?}", found.slow);
    assert_eq!(found.exact.as_ref().map(|e| e.singular), Some(1), "I - W is singular: a continuum or none");
}

#[test]
fn bad_starts_are_errors() {
    let (w, b) = (array![[0.5]], array![0.0]);
    let m = map(&w, &b, TransferFunction::Relu);
    assert!(
        find_fixed_points(&m, Array2::zeros((0, 1)).view(), &options()).unwrap_err().to_string().starts_with("states:")
    );
    assert!(find_fixed_points(&m, Array2::zeros((3, 2)).view(), &options()).is_err());
    let nan = FixedPointOptions { start_noise: f64::NAN, ..options() };
    assert!(find_fixed_points(&m, Array2::zeros((3, 1)).view(), &nan).is_err());
}
