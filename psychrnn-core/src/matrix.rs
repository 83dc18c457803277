//! Matrices written in a manifest (connectivity masks, fixed-weight masks), checked for shape.
//!
//! Three forms:
//! ```toml
//! rec_connectivity = [[0, 1], [1, 0]]                                  # inline rows
//! rec_connectivity = { file = "masks.npz", key = "rec" }                 # an array in an .npz file
//! rec_connectivity = { fill = 0, blocks = [                              # blocks (multi-area)
//!     { rows = [0, 40], cols = [0, 40], value = 1 },                     #   [start, end) ranges
//!     { rows = [40, 80], cols = [0, 40], value = 1 } ] }
//! ```

use std::path::PathBuf;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::npz::read_npz;
use crate::registry::BuildContext;

/// One rectangular block `rows[0]..rows[1] x cols[0]..cols[1]` set to `value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// `[start, end)` of the rows.
    pub rows: [usize; 2],
    /// `[start, end)` of the columns.
    pub cols: [usize; 2],
    /// The value of every entry in the block.
    pub value: f64,
}

/// A matrix given in a manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MatrixSpec {
    /// Rows of numbers.
    Inline(Vec<Vec<f64>>),
    /// An array stored in an `.npz` file (path relative to the manifest).
    File {
        /// The `.npz` file.
        file: PathBuf,
        /// The array's key in the file.
        key: String,
    },
    /// `fill` everywhere, then each block in order.
    Blocks {
        /// The value outside the blocks.
        fill: f64,
        /// The blocks, later ones overwriting earlier ones.
        blocks: Vec<Block>,
    },
}

fn shape_err(field: &str, rows: usize, cols: usize, what: &str, found: String) -> Error {
    Error::shape(field, format!("[{rows}, {cols}] ({what})"), found)
}

impl MatrixSpec {
    /// Makes a relative `file` path absolute against the manifest's directory (so a lock
    /// manifest written elsewhere still finds it).
    pub fn make_paths_absolute(&mut self, ctx: &BuildContext) {
        if let MatrixSpec::File { file, .. } = self {
            *file = ctx.resolve(file);
        }
    }

    /// The matrix, checked to be `rows x cols` (`what` names the dimensions in the error, e.g.
    /// `"N_rec x N_in"`).
    ///
    /// # Errors
    /// [`Error::Shape`] naming `field` if the shape differs or the rows are ragged; for a file,
    /// [`Error::Read`] or [`Error::Invalid`] naming the file and key; for blocks, an
    /// [`Error::Invalid`] naming the block that does not fit.
    pub fn resolve(&self, field: &str, rows: usize, cols: usize, what: &str) -> Result<Array2<f32>> {
        match self {
            MatrixSpec::Inline(data) => {
                let found_cols = data.first().map_or(0, Vec::len);
                if let Some((i, row)) = data.iter().enumerate().find(|(_, r)| r.len() != found_cols) {
                    return Err(shape_err(
                        field,
                        rows,
                        cols,
                        what,
                        format!("ragged rows (row 0 has {found_cols} values, row {i} has {})", row.len()),
                    ));
                }
                if data.len() != rows || found_cols != cols {
                    return Err(shape_err(field, rows, cols, what, format!("[{}, {found_cols}]", data.len())));
                }
                Ok(Array2::from_shape_fn((rows, cols), |(i, j)| data[i][j] as f32))
            }
            MatrixSpec::File { file, key } => {
                let contents = read_npz(file)?;
                let a = contents.get(key).ok_or_else(|| {
                    let keys: Vec<&str> = contents.arrays.iter().map(|a| a.name.as_str()).collect();
                    Error::invalid(
                        field,
                        format!("{} has no array `{key}`; it has {}", file.display(), keys.join(", ")),
                    )
                })?;
                if a.shape != [rows, cols] {
                    return Err(shape_err(
                        field,
                        rows,
                        cols,
                        what,
                        format!("{:?} (`{key}` in {})", a.shape, file.display()),
                    ));
                }
                let values = a.to_f32().ok_or_else(|| {
                    Error::invalid(field, format!("`{key}` in {} holds text, not numbers", file.display()))
                })?;
                Array2::from_shape_vec((rows, cols), values).map_err(|e| Error::invalid(field, e.to_string()))
            }
            MatrixSpec::Blocks { fill, blocks } => {
                let mut m = Array2::from_elem((rows, cols), *fill as f32);
                for (i, b) in blocks.iter().enumerate() {
                    if b.rows[0] > b.rows[1] || b.rows[1] > rows || b.cols[0] > b.cols[1] || b.cols[1] > cols {
                        return Err(Error::invalid(
                            format!("{field}.blocks[{i}]"),
                            format!(
                                "rows {:?} x cols {:?} do not fit a [{rows}, {cols}] ({what}) matrix",
                                b.rows, b.cols
                            ),
                        ));
                    }
                    m.slice_mut(ndarray::s![b.rows[0]..b.rows[1], b.cols[0]..b.cols[1]]).fill(b.value as f32);
                }
                Ok(m)
            }
        }
    }

    /// Like [`MatrixSpec::resolve`], and also requires every entry to be 0 or 1.
    ///
    /// # Errors
    /// As [`MatrixSpec::resolve`], or [`Error::Invalid`] for a value other than 0 or 1.
    pub fn resolve_mask(&self, field: &str, rows: usize, cols: usize, what: &str) -> Result<Array2<f32>> {
        let m = self.resolve(field, rows, cols, what)?;
        if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| **v != 0.0 && **v != 1.0) {
            return Err(Error::invalid(field, format!("a mask holds only 0 and 1, found {v} at [{i}, {j}]")));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npz::{NpyArray, write_npz};

    #[test]
    fn shape_errors_name_the_field_and_both_shapes() {
        let m = MatrixSpec::Inline(vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(m.resolve("x", 2, 2, "N x N").unwrap().sum(), 2.0);
        let err = m.resolve("model.rec_connectivity", 3, 3, "N_rec x N_rec").unwrap_err();
        assert_eq!(err.to_string(), "model.rec_connectivity: expected shape [3, 3] (N_rec x N_rec), found [2, 2]");
        let ragged = MatrixSpec::Inline(vec![vec![1.0, 0.0], vec![0.0]]);
        assert!(ragged.resolve("x", 2, 2, "").unwrap_err().to_string().contains("ragged"));
        let not_mask = MatrixSpec::Inline(vec![vec![0.5]]);
        assert!(not_mask.resolve_mask("m", 1, 1, "").unwrap_err().to_string().contains("0.5 at [0, 0]"));
    }

    #[test]
    fn blocks_build_multi_area_masks() {
        let spec: MatrixSpec = toml::from_str::<toml::Table>(
            "m = { fill = 0, blocks = [{ rows = [0, 2], cols = [0, 2], value = 1 }, { rows = [2, 3], cols = [0, 3], value = 1 }] }",
        )
        .unwrap()["m"]
            .clone()
            .try_into()
            .unwrap();
        let m = spec.resolve_mask("m", 3, 3, "").unwrap();
        assert_eq!(m, ndarray::array![[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]);
        let bad = MatrixSpec::Blocks { fill: 0.0, blocks: vec![Block { rows: [0, 4], cols: [0, 1], value: 1.0 }] };
        assert_eq!(
            bad.resolve("mask", 3, 3, "N x N").unwrap_err().to_string(),
            "mask.blocks[0]: rows [0, 4] x cols [0, 1] do not fit a [3, 3] (N x N) matrix"
        );
    }

    #[test]
    fn file_masks_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("psychrnn-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_npz(&dir.join("m.npz"), &[NpyArray::f64("mask", &[2, 2], vec![1.0, 0.0, 0.0, 1.0])]).unwrap();
        let mut spec = MatrixSpec::File { file: "m.npz".into(), key: "mask".into() };
        spec.make_paths_absolute(&BuildContext::new(&dir));
        assert_eq!(spec.resolve_mask("m", 2, 2, "").unwrap(), ndarray::array![[1.0, 0.0], [0.0, 1.0]]);
        assert!(spec.resolve("m", 3, 2, "").unwrap_err().to_string().contains("expected shape [3, 2]"));
        let MatrixSpec::File { file, .. } = &spec else { unreachable!() };
        let wrong_key = MatrixSpec::File { file: file.clone(), key: "nope".into() };
        assert!(wrong_key.resolve("m", 2, 2, "").unwrap_err().to_string().contains("has no array `nope`; it has mask"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
