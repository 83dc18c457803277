//! Matrices written in a manifest (connectivity masks, fixed-weight masks), checked for shape.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A matrix given in a manifest: today an inline array of rows, e.g.
/// `rec_connectivity = [[0, 1], [1, 0]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MatrixSpec {
    /// Rows of numbers.
    Inline(Vec<Vec<f64>>),
}

impl MatrixSpec {
    /// The matrix, checked to be `rows x cols` (`what` names the dimensions in the error, e.g.
    /// `"N_rec x N_in"`).
    ///
    /// # Errors
    /// [`Error::Shape`] naming `field` if the shape differs or the rows are ragged.
    pub fn resolve(
        &self,
        field: &str,
        rows: usize,
        cols: usize,
        what: &str,
    ) -> Result<Array2<f32>> {
        let MatrixSpec::Inline(data) = self;
        let found_cols = data.first().map_or(0, Vec::len);
        if let Some((i, row)) = data.iter().enumerate().find(|(_, r)| r.len() != found_cols) {
            return Err(Error::shape(
                field,
                format!("[{rows}, {cols}] ({what})"),
                format!(
                    "ragged rows (row 0 has {found_cols} values, row {i} has {})",
                    row.len()
                ),
            ));
        }
        if data.len() != rows || found_cols != cols {
            return Err(Error::shape(
                field,
                format!("[{rows}, {cols}] ({what})"),
                format!("[{}, {found_cols}]", data.len()),
            ));
        }
        Ok(Array2::from_shape_fn((rows, cols), |(i, j)| {
            data[i][j] as f32
        }))
    }

    /// Like [`MatrixSpec::resolve`], and also requires every entry to be 0 or 1.
    ///
    /// # Errors
    /// As [`MatrixSpec::resolve`], or [`Error::Invalid`] for a value other than 0 or 1.
    pub fn resolve_mask(
        &self,
        field: &str,
        rows: usize,
        cols: usize,
        what: &str,
    ) -> Result<Array2<f32>> {
        let m = self.resolve(field, rows, cols, what)?;
        if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| **v != 0.0 && **v != 1.0) {
            return Err(Error::invalid(
                field,
                format!("a mask holds only 0 and 1, found {v} at [{i}, {j}]"),
            ));
        }
        Ok(m)
    }

    /// The inline form of an array (for writing resolved manifests).
    pub fn from_array(a: &Array2<f32>) -> Self {
        MatrixSpec::Inline(
            a.rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_errors_name_the_field_and_both_shapes() {
        let m = MatrixSpec::Inline(vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(m.resolve("x", 2, 2, "N x N").unwrap().sum(), 2.0);
        let err = m
            .resolve("model.rec_connectivity", 3, 3, "N_rec x N_rec")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "model.rec_connectivity: expected shape [3, 3] (N_rec x N_rec), found [2, 2]"
        );
        let ragged = MatrixSpec::Inline(vec![vec![1.0, 0.0], vec![0.0]]);
        assert!(
            ragged
                .resolve("x", 2, 2, "")
                .unwrap_err()
                .to_string()
                .contains("ragged")
        );
        let not_mask = MatrixSpec::Inline(vec![vec![0.5]]);
        assert!(
            not_mask
                .resolve_mask("m", 1, 1, "")
                .unwrap_err()
                .to_string()
                .contains("0.5 at [0, 0]")
        );
    }
}
