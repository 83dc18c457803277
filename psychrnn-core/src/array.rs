//! Contiguous views of standard-layout arrays, for the slice-based GEMM kernels.

use ndarray::{ArrayBase, Data, DataMut, Dimension};

use crate::error::{Error, Result};

/// The row-major data of a standard-layout array.
///
/// # Errors
/// [`Error::Invalid`] if the array is not contiguous in standard order (an internal invariant:
/// the hot loop only uses arrays it allocated itself).
pub fn contiguous<A, S: Data<Elem = A>, D: Dimension>(a: &ArrayBase<S, D>) -> Result<&[A]> {
    a.as_slice().ok_or_else(|| Error::invalid("", "internal: array is not in standard layout"))
}

/// The row-major data of a standard-layout array, mutably.
///
/// # Errors
/// As [`contiguous`].
pub fn contiguous_mut<A, S: DataMut<Elem = A>, D: Dimension>(a: &mut ArrayBase<S, D>) -> Result<&mut [A]> {
    a.as_slice_mut().ok_or_else(|| Error::invalid("", "internal: array is not in standard layout"))
}
