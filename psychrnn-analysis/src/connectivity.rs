//! Connectivity of a trained network: units ordered by selectivity, excitatory and inhibitory
//! separately (PyCog Fig 3), the E/I balance of each unit's input, and the recurrent eigenvalue
//! spectrum.

use ndarray::ArrayView2;
use psychrnn_core::{Error, Result};

/// The units to show, PyCog Fig 3 style: within each group (excitatory, then inhibitory; one
/// group without Dale's principle) the `per_group[g]` units of largest `|selectivity|`, ordered
/// from most selective for choice 1 (largest positive) to most selective for choice 2.
/// Non-finite selectivities sort as 0 in the choice of units but keep their sign in the order.
///
/// # Errors
/// [`Error::Invalid`] if `excitatory` is given with another length than `selectivity`.
pub fn units_by_selectivity(
    selectivity: &[f64],
    excitatory: Option<&[bool]>,
    per_group: [usize; 2],
) -> Result<Vec<usize>> {
    let n = selectivity.len();
    let groups: Vec<Vec<usize>> = match excitatory {
        Some(e) if e.len() != n => {
            return Err(Error::invalid("excitatory", format!("{} flags for {n} units", e.len())));
        }
        Some(e) => vec![(0..n).filter(|&u| e[u]).collect(), (0..n).filter(|&u| !e[u]).collect()],
        None => vec![(0..n).collect()],
    };
    let key = |u: usize| if selectivity[u].is_nan() { 0.0 } else { selectivity[u] };
    let mut order = Vec::new();
    for (g, mut units) in groups.into_iter().enumerate() {
        units.sort_by(|&a, &b| key(b).abs().total_cmp(&key(a).abs()).then(a.cmp(&b)));
        units.truncate(per_group[g.min(1)]);
        units.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
        order.extend(units);
    }
    Ok(order)
}

/// For each unit (row of `w_rec`, postsynaptic), the excitatory minus the inhibitory input
/// weight: `sum_{j exc} W_ij - sum_{j inh} |W_ij|` (effective weights: columns of excitatory
/// units are >= 0, of inhibitory units <= 0).
///
/// # Errors
/// [`Error::Shape`] if `w_rec` is not square or `excitatory` does not fit it.
pub fn ei_balance(w_rec: ArrayView2<'_, f32>, excitatory: &[bool]) -> Result<Vec<f64>> {
    let n = excitatory.len();
    if w_rec.dim() != (n, n) {
        return Err(Error::shape("W_rec", format!("[{n}, {n}]"), format!("{:?}", w_rec.shape())));
    }
    Ok(w_rec
        .rows()
        .into_iter()
        .map(|row| row.iter().zip(excitatory).map(|(&w, &e)| if e { f64::from(w) } else { -f64::from(w).abs() }).sum())
        .collect())
}

/// The eigenvalues `(re, im)` of a square matrix (e.g. the effective `W_rec`), by decreasing
/// modulus.
///
/// # Errors
/// [`Error::Shape`] for a non-square matrix; [`Error::Numerical`] if it is not finite or the
/// solver fails.
pub fn spectrum(w: ArrayView2<'_, f32>) -> Result<Vec<(f64, f64)>> {
    let (rows, cols) = w.dim();
    if rows != cols {
        return Err(Error::shape("W_rec", "a square matrix", format!("{:?}", w.shape())));
    }
    let flat: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    psychrnn_linalg::eigenvalues(&flat, rows)
        .map_err(|e| Error::Numerical { context: "W_rec eigenvalues".into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn units_are_chosen_by_magnitude_and_ordered_by_sign_within_each_group() {
        let d = [0.5, -3.0, 2.0, 0.1, -0.2, 4.0, f64::NAN];
        let e = [true, true, true, true, false, false, false];
        // Excitatory: top 3 by |d'| are 1 (-3), 2 (2), 0 (0.5): ordered 2, 0, 1. Inhibitory: top 2
        // are 5 (4) and 4 (-0.2).
        assert_eq!(units_by_selectivity(&d, Some(&e), [3, 2]).unwrap(), vec![2, 0, 1, 5, 4]);
        assert_eq!(units_by_selectivity(&d, None, [3, 0]).unwrap(), vec![5, 2, 1]);
        assert!(units_by_selectivity(&d, Some(&e[..2]), [1, 1]).is_err());
    }

    #[test]
    fn balance_and_spectrum_by_hand() {
        let w = array![[0.0f32, 2.0, -1.0], [1.0, 0.0, -3.0], [0.5, 0.5, 0.0]];
        let b = ei_balance(w.view(), &[true, true, false]).unwrap();
        assert_eq!(b, vec![1.0, -2.0, 1.0]);
        assert!(ei_balance(w.view(), &[true]).is_err());
        let s = spectrum(array![[0.0f32, -2.0], [2.0, 0.0]].view()).unwrap();
        assert!(s.iter().all(|z| z.0.abs() < 1e-12 && (z.1.abs() - 2.0).abs() < 1e-12), "{s:?}");
        assert!(spectrum(array![[1.0f32, 2.0]].view()).is_err());
    }
}
