//! The exact solver for ReLU (and linear) networks. Inside one activation pattern `D` (the units
//! with `x > 0`) a ReLU network is linear, `f(x) = D x`, so a fixed point of
//! `x = W_rec f(x) + W_in u + b` solves `(I - W_rec D) x = W_in u + b`; it is a fixed point of
//! the network when it lies in its own pattern (`x_i > 0` exactly for the units in `D`). The
//! patterns tried are those the network visits (its trajectories' and the iterative search's
//! points) and their one-unit neighbours: every fixed point in those regions is found, with the
//! linear system as its certificate (SCYFI, Eisenmann et al. 2023, does the same for
//! piecewise-linear RNNs).

use std::collections::BTreeSet;

use ndarray::{Array1, ArrayView1, ArrayView2};
use psychrnn_core::model::TransferFunction;
use psychrnn_core::{Error, Result};

use super::rate_map::RateMap;

/// An activation pattern: which units are active (`x > 0`).
pub type Pattern = Vec<bool>;

/// The pattern of a state.
pub fn pattern_of(x: ArrayView1<'_, f64>) -> Pattern {
    x.iter().map(|&v| v > 0.0).collect()
}

/// The patterns to solve, most promising first, at most `max`: those of `points` (where the
/// iterative search ended), their one-unit neighbours, then those of `states` (the trajectories)
/// by how often the network visits them. The flag says whether some were left out.
pub fn candidate_patterns(
    points: ArrayView2<'_, f64>,
    states: ArrayView2<'_, f64>,
    max: usize,
) -> (Vec<Pattern>, bool) {
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    let mut push = |p: Pattern, order: &mut Vec<Pattern>| {
        if seen.insert(p.clone()) {
            order.push(p);
        }
    };
    let ends: Vec<Pattern> = points.rows().into_iter().map(pattern_of).collect();
    for p in &ends {
        push(p.clone(), &mut order);
    }
    for p in &ends {
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] = !q[i];
            push(q, &mut order);
        }
    }
    let mut visits: std::collections::BTreeMap<Pattern, usize> = std::collections::BTreeMap::new();
    for row in states.rows() {
        *visits.entry(pattern_of(row)).or_default() += 1;
    }
    let mut by_visits: Vec<(Pattern, usize)> = visits.into_iter().collect();
    by_visits.sort_by_key(|p| std::cmp::Reverse(p.1));
    for (p, _) in by_visits {
        push(p, &mut order);
    }
    let truncated = order.len() > max;
    order.truncate(max);
    (order, truncated)
}

/// What [`solve_patterns`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactPoints {
    /// The fixed points, one per pattern that holds one (distinct patterns give distinct
    /// points, except on the boundary between them).
    pub points: Vec<Array1<f64>>,
    /// Patterns solved.
    pub patterns_tried: usize,
    /// Patterns whose system `(I - W_rec D)` is singular: there, fixed points (if any) form a
    /// continuum (e.g. a line attractor), which no single solution represents.
    pub singular: usize,
}

/// Solves the fixed-point system of every pattern in `patterns` and keeps the solutions that
/// lie in their own pattern.
///
/// # Errors
/// [`Error::Invalid`] for a network whose transfer function is neither ReLU nor linear (it is
/// not piecewise linear), or a pattern of the wrong length.
pub fn solve_patterns(map: &RateMap, patterns: &[Pattern]) -> Result<ExactPoints> {
    let n = map.n();
    let linear = match map.transfer() {
        TransferFunction::Relu => false,
        TransferFunction::Linear => true,
        other => {
            return Err(Error::invalid(
                "transfer_function",
                format!(
                    "the exact solver needs a piecewise-linear network (relu or linear), this one is {}; use the iterative search",
                    other.name()
                ),
            ));
        }
    };
    let all_active = [vec![true; n]];
    let patterns = if linear { &all_active[..] } else { patterns };
    let (w, drive) = (map.w_rec(), map.drive());
    let b: Vec<f64> = drive.to_vec();
    let mut out = ExactPoints { points: Vec::new(), patterns_tried: 0, singular: 0 };
    for pattern in patterns {
        if pattern.len() != n {
            return Err(Error::invalid("pattern", format!("{} units for a network of {n}", pattern.len())));
        }
        out.patterns_tried += 1;
        // (I - W D)_ij = delta_ij - W_ij [j active].
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let wd = if pattern[j] { w[[i, j]] } else { 0.0 };
                a[i * n + j] = if i == j { 1.0 } else { 0.0 } - wd;
            }
        }
        let solved = psychrnn_linalg::solve(&a, &b, n)
            .map_err(|e| Error::Numerical { context: "fixed point system".into(), message: e.to_string() })?;
        let Some(x) = solved else {
            out.singular += 1;
            continue;
        };
        let consistent = linear || x.iter().zip(pattern).all(|(&v, &active)| (v > 0.0) == active);
        if consistent {
            out.points.push(Array1::from(x));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn one_self_exciting_unit_has_a_stable_and_an_unstable_point() {
        // x = 2 relu(x) - 1: x = -1 (inactive) and x = 1 (active).
        let (w, b) = (array![[2.0]], array![-1.0]);
        let map = crate::fixed_points::rate_map::autonomous(&w, &b, 0.1, TransferFunction::Relu);
        let all = [vec![false], vec![true]];
        let mut found: Vec<f64> = solve_patterns(&map, &all).unwrap().points.iter().map(|p| p[0]).collect();
        found.sort_by(f64::total_cmp);
        assert_eq!(found, [-1.0, 1.0]);
        let tanh = crate::fixed_points::rate_map::autonomous(&w, &b, 0.1, TransferFunction::Tanh);
        assert!(solve_patterns(&tanh, &all).unwrap_err().to_string().contains("piecewise-linear"));
    }

    #[test]
    fn candidates_are_the_end_points_their_neighbours_then_the_most_visited_patterns() {
        let ends = array![[1.0, -1.0, 2.0]];
        let states = array![[-1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, -2.0]];
        let (p, truncated) = candidate_patterns(ends.view(), states.view(), 100);
        assert!(!truncated);
        assert_eq!(p[0], [true, false, true]);
        assert_eq!(p.len(), 1 + 3 + 2, "the end point, its 3 neighbours, 2 visited patterns");
        assert_eq!(p[4], [false, false, false], "visited twice: first of the trajectories' patterns");
        let (p, truncated) = candidate_patterns(ends.view(), states.view(), 2);
        assert!(truncated && p.len() == 2);
    }
}
