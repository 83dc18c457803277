//! How the network computes: fixed and slow points of a rate network under a constant input,
//! their linearisation, and, for ReLU networks, an exact solver that certifies them (Sussillo &
//! Barak 2013; Golub & Sussillo's FixedPointFinder).
//!
//! - [`rate_map`]: the one-step map `F`, `q(x) = 1/2 |F(x) - x|^2` and its gradient, the Jacobian.
//! - [`search`]: the iterative search from many starting states (FixedPointFinder's defaults).
//! - [`exact`]: every fixed point of a ReLU network in the activation patterns it visits.
//! - [`mod@linearise`]: eigenvalues, stability class, time constants, oscillation frequencies.
//! - [`continua`]: approximate line attractors (chains of fixed and slow points) and alignments.
//! - [`find_fixed_points`] runs them together: starts sampled from the network's own states,
//!   distance outliers dropped, unique fixed points (`q < fixed_q`) and slow points
//!   (`fixed_q <= q < slow_q`) kept apart, each fixed point marked with the search that found it.

pub mod continua;
pub mod exact;
pub mod linearise;
pub mod rate_map;
pub mod search;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::{Error, Result};

pub use linearise::{Linearisation, Stability, linearise};
pub use rate_map::{RateMap, RateNetwork};
pub use search::{SearchOptions, minimise_q, sample_starts};

/// Multiply-adds the Newton steps of one search may spend (`newton_steps x N^3` per start;
/// 2e10, tens of seconds): the starts left furthest from a fixed point go without when it runs
/// out.
const NEWTON_BUDGET: f64 = 2e10;

/// The settings of [`find_fixed_points`] (defaults: FixedPointFinder's where it has one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPointOptions {
    /// The iterative search.
    pub search: SearchOptions,
    /// Starting states sampled from the network's states (FixedPointFinder's examples: 1,024).
    pub n_starts: usize,
    /// Standard deviation of the Gaussian noise added to each start (FixedPointFinder's
    /// `sample_states` default: 0; its flip-flop example: 0.5).
    pub start_noise: f64,
    /// Seed of the starts.
    pub seed: u64,
    /// A point is fixed when `q` is below this (1e-10: `|F(x) - x| < 1.4e-5` per step).
    pub fixed_q: f64,
    /// A point is slow when `q` is below this but not below `fixed_q` (1e-6: the state moves
    /// by less than about 1.4e-3 per step).
    pub slow_q: f64,
    /// Two points are the same when every coordinate differs by less than this (FixedPointFinder's
    /// `tol_unique`: 1e-3); the one of lower `q` is kept.
    pub tol_unique: f64,
    /// Points farther from the starts' centroid than this many times the starts' mean distance
    /// from it are dropped (FixedPointFinder's `outlier_distance_scale`: 10).
    pub outlier_distance_scale: f64,
    /// Newton steps after the search for each start it left above `tol_q` (0: none; not in
    /// FixedPointFinder, which stops at its first-order search).
    pub newton_steps: usize,
    /// Run the exact solver on ReLU and linear networks.
    pub exact: bool,
    /// The exact solver's work budget: at most this many multiply-adds (`patterns x N^3`) of
    /// linear solves (2e10, tens of seconds); the patterns are ranked, so the budget drops the
    /// least visited.
    pub exact_budget: f64,
}

impl Default for FixedPointOptions {
    fn default() -> Self {
        FixedPointOptions {
            search: SearchOptions::default(),
            n_starts: 1024,
            start_noise: 0.0,
            seed: 0,
            fixed_q: 1e-10,
            slow_q: 1e-6,
            tol_unique: 1e-3,
            outlier_distance_scale: 10.0,
            newton_steps: 20,
            exact: true,
            exact_budget: 2e10,
        }
    }
}

/// Which search found a fixed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// The iterative search only (on a ReLU network: in no pattern the exact solver tried).
    Iterative,
    /// The exact solver only: the iterative search missed it.
    Exact,
    /// Both.
    Both,
}

impl FoundBy {
    /// `iterative`, `exact` or `both`.
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::Iterative => "iterative",
            FoundBy::Exact => "exact",
            FoundBy::Both => "both",
        }
    }
}

/// A fixed point and its linearisation.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedPoint {
    /// The state (pre-activations `x`).
    pub x: Array1<f64>,
    /// `q` there.
    pub q: f64,
    /// The search that found it.
    pub found_by: FoundBy,
    /// The linearisation there.
    pub linearisation: Linearisation,
}

/// A slow point: `q` small but not zero.
#[derive(Clone, Debug, PartialEq)]
pub struct SlowPoint {
    /// The state.
    pub x: Array1<f64>,
    /// `q` there.
    pub q: f64,
}

/// What the exact solver did.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactSummary {
    /// Activation patterns solved.
    pub patterns_tried: usize,
    /// Whether the budget left patterns out.
    pub truncated: bool,
    /// Patterns whose system is singular (a continuum of fixed points, if any).
    pub singular: usize,
    /// Fixed points the iterative search missed.
    pub missed_by_iterative: usize,
    /// Iterative fixed points the exact solver did not confirm.
    pub unconfirmed_iterative: usize,
}

/// The fixed and slow points of a network under one input.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedPoints {
    /// The unique fixed points: stable first, then by the number of unstable directions.
    pub fixed: Vec<FixedPoint>,
    /// The unique slow points, none within `tol_unique` of a fixed point, by increasing `q`.
    pub slow: Vec<SlowPoint>,
    /// Starts run.
    pub starts: usize,
    /// `q` where each start ended (distance outliers included), in start order: how far the
    /// search got.
    pub end_q: Vec<f64>,
    /// End points dropped as distance outliers.
    pub outliers: usize,
    /// The exact solver's account (ReLU and linear networks).
    pub exact: Option<ExactSummary>,
}

/// Whether `a` and `b` are the same point: every coordinate within `tol`.
fn same(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>, tol: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
}

/// The points of `points` (with their `q`), lowest `q` first, without those within `tol` of one
/// kept before.
fn unique(mut points: Vec<(Array1<f64>, f64)>, tol: f64) -> Vec<(Array1<f64>, f64)> {
    points.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut kept: Vec<(Array1<f64>, f64)> = Vec::new();
    for (x, q) in points {
        if !kept.iter().any(|(k, _)| same(k.view(), x.view(), tol)) {
            kept.push((x, q));
        }
    }
    kept
}

/// Finds the fixed and slow points of `map` from starts sampled from `states` (`[M, N]`: the
/// network's states, e.g. every step of its simulated trials).
///
/// # Errors
/// [`Error::Invalid`] if `states` is empty or of the wrong width, or an option is out of range;
/// [`Error::Numerical`] if a linear solve or an eigen-decomposition fails.
pub fn find_fixed_points(
    map: &RateMap,
    states: ArrayView2<'_, f64>,
    options: &FixedPointOptions,
) -> Result<FixedPoints> {
    let n = map.n();
    if states.nrows() == 0 || states.ncols() != n {
        return Err(Error::invalid(
            "states",
            format!("need at least one state of {n} units to start from, got {:?}", states.shape()),
        ));
    }
    if options.n_starts == 0 {
        return Err(Error::invalid("starts", "must be at least 1"));
    }
    if !(options.start_noise.is_finite() && options.start_noise >= 0.0) {
        return Err(Error::invalid(
            "start_noise",
            format!("must be a finite number >= 0, got {}", options.start_noise),
        ));
    }
    let mut rng = stream(options.seed, Purpose::User, 0x0F1C);
    let starts = sample_starts(states, options.n_starts, options.start_noise, &mut rng);
    let mut ends = minimise_q(map, starts.view(), &options.search);
    // Newton steps where Adam stopped short, lowest q first, within NEWTON_BUDGET.
    let mut order: Vec<usize> = (0..ends.len()).filter(|&i| ends[i].q >= options.search.tol_q).collect();
    order.sort_by(|&a, &b| ends[a].q.total_cmp(&ends[b].q));
    let per_start = (options.newton_steps as f64) * (n as f64).powi(3);
    let affordable = if per_start > 0.0 { (NEWTON_BUDGET / per_start) as usize } else { 0 };
    for &i in order.iter().take(affordable) {
        let (x, q) = search::newton_polish(map, ends[i].x.view(), options.newton_steps, options.search.tol_q);
        if q < ends[i].q {
            ends[i].x = x;
            ends[i].q = q;
        }
    }
    let end_q: Vec<f64> = ends.iter().map(|c| c.q).collect();

    // Distance outliers: farther from the starts' centroid than scale x their mean distance.
    let centroid = starts.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(n));
    let distance = |x: ArrayView1<'_, f64>| (&x - &centroid).mapv(|v| v * v).sum().sqrt();
    let mean_distance = starts.rows().into_iter().map(distance).sum::<f64>() / starts.nrows() as f64;
    let limit = options.outlier_distance_scale * mean_distance.max(1e-12);
    let (kept, outliers): (Vec<_>, Vec<_>) = ends.into_iter().partition(|c| distance(c.x.view()) <= limit);

    let fixed_ends: Vec<(Array1<f64>, f64)> =
        kept.iter().filter(|c| c.q < options.fixed_q).map(|c| (c.x.clone(), c.q)).collect();
    let iterative = unique(fixed_ends, options.tol_unique);

    // The exact solver on piecewise-linear networks.
    use psychrnn_core::model::TransferFunction;
    let piecewise = matches!(map.transfer(), TransferFunction::Relu | TransferFunction::Linear);
    let mut points: Vec<(Array1<f64>, f64, FoundBy)> = Vec::new();
    let mut exact_summary = None;
    if options.exact && piecewise {
        let end_rows: Vec<ArrayView1<'_, f64>> = kept.iter().map(|c| c.x.view()).collect();
        let end_matrix = if end_rows.is_empty() {
            Array2::zeros((0, n))
        } else {
            ndarray::stack(Axis(0), &end_rows).map_err(|e| Error::invalid("states", e.to_string()))?
        };
        let max_patterns = ((options.exact_budget / (n as f64).powi(3).max(1.0)) as usize).max(1);
        let (patterns, truncated) = exact::candidate_patterns(end_matrix.view(), states, max_patterns);
        let solved = exact::solve_patterns(map, &patterns)?;
        let exact_points = unique(
            solved
                .points
                .into_iter()
                .map(|x| {
                    let q = map.q(x.view());
                    (x, q)
                })
                .collect(),
            options.tol_unique,
        );
        let mut confirmed = vec![false; iterative.len()];
        let mut missed = 0;
        for (x, q) in exact_points {
            match iterative.iter().position(|(y, _)| same(x.view(), y.view(), options.tol_unique)) {
                Some(i) => {
                    confirmed[i] = true;
                    points.push((x, q, FoundBy::Both));
                }
                None => {
                    missed += 1;
                    points.push((x, q, FoundBy::Exact));
                }
            }
        }
        let unconfirmed: Vec<(Array1<f64>, f64)> =
            iterative.iter().zip(&confirmed).filter(|(_, c)| !**c).map(|(p, _)| p.clone()).collect();
        exact_summary = Some(ExactSummary {
            patterns_tried: solved.patterns_tried,
            truncated,
            singular: solved.singular,
            missed_by_iterative: missed,
            unconfirmed_iterative: unconfirmed.len(),
        });
        points.extend(unconfirmed.into_iter().map(|(x, q)| (x, q, FoundBy::Iterative)));
    } else {
        points.extend(iterative.into_iter().map(|(x, q)| (x, q, FoundBy::Iterative)));
    }

    let mut fixed = points
        .into_iter()
        .map(|(x, q, found_by)| Ok(FixedPoint { linearisation: linearise(map, x.view())?, x, q, found_by }))
        .collect::<Result<Vec<_>>>()?;
    fixed.sort_by_key(|p| (p.linearisation.n_unstable, p.q.to_bits()));

    let slow_ends: Vec<(Array1<f64>, f64)> = kept
        .iter()
        .filter(|c| c.q >= options.fixed_q && c.q < options.slow_q)
        .filter(|c| !fixed.iter().any(|f| same(f.x.view(), c.x.view(), options.tol_unique)))
        .map(|c| (c.x.clone(), c.q))
        .collect();
    let slow = unique(slow_ends, options.tol_unique).into_iter().map(|(x, q)| SlowPoint { x, q }).collect();
    Ok(FixedPoints { fixed, slow, starts: starts.nrows(), end_q, outliers: outliers.len(), exact: exact_summary })
}

#[cfg(test)]
mod tests;
