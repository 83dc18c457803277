//! Array layouts: contiguous views of standard-layout arrays (for the slice-based kernels), and
//! conversion between psychrnn's time-major `[time, batch, unit]` and PsychRNN's batch-major
//! `[batch, time, unit]` (its `x`, `y`, `mask`, outputs and states).

use ndarray::{Array3, ArrayBase, ArrayView3, Data, DataMut, Dimension};

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

/// A zero-filled array of `shape`, its memory reserved fallibly: a size that overflows or that
/// the allocator refuses (e.g. under `ulimit -v`) is an error naming `what` and the bytes asked
/// for, where `Array::zeros` would abort the process.
///
/// # Errors
/// [`Error::Invalid`] naming `what`.
pub fn try_zeros<A: Clone + num_traits::Zero, Sh: ndarray::ShapeBuilder>(
    what: &str,
    shape: Sh,
) -> Result<ndarray::Array<A, Sh::Dim>> {
    let shape = shape.into_shape_with_order();
    let dims = shape.raw_dim().slice().to_vec();
    let too_big = || {
        let bytes = dims.iter().map(|&d| d as f64).product::<f64>() * std::mem::size_of::<A>() as f64;
        Error::invalid(what, format!("cannot allocate {bytes:.3e} bytes for an array of shape {dims:?}"))
    };
    let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(too_big)?;
    count.checked_mul(std::mem::size_of::<A>()).filter(|&b| b <= isize::MAX as usize).ok_or_else(too_big)?;
    let mut data = Vec::new();
    data.try_reserve_exact(count).map_err(|_| too_big())?;
    data.resize(count, A::zero());
    ndarray::Array::from_shape_vec(shape, data).map_err(|e| Error::invalid(what, e.to_string()))
}

/// A batch-major array `[batch, time, unit]` (PsychRNN's layout) as a time-major one
/// `[time, batch, unit]` (psychrnn's), in standard layout.
///
/// ```
/// use psychrnn_core::array::{to_batch_major, to_time_major};
/// let psychrnn_x = ndarray::Array3::from_shape_fn((4, 100, 2), |(b, t, c)| (b * 1000 + t * 10 + c) as f32);
/// let x = to_time_major(psychrnn_x.view());
/// assert_eq!((x.shape(), x[[7, 3, 1]]), (&[100, 4, 2][..], 3071.0));
/// assert_eq!(to_batch_major(x.view()), psychrnn_x);
/// ```
pub fn to_time_major<A: Clone>(batch_major: ArrayView3<'_, A>) -> Array3<A> {
    batch_major.permuted_axes([1, 0, 2]).as_standard_layout().into_owned()
}

/// A time-major array `[time, batch, unit]` as a batch-major one `[batch, time, unit]`
/// (PsychRNN's layout), in standard layout; the inverse of [`to_time_major`].
pub fn to_batch_major<A: Clone>(time_major: ArrayView3<'_, A>) -> Array3<A> {
    time_major.permuted_axes([1, 0, 2]).as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_too_large_to_allocate_are_an_error_not_an_abort() {
        let a: ndarray::Array3<f32> = try_zeros("states", (2, 3, 4)).unwrap();
        assert_eq!(a, ndarray::Array3::<f32>::zeros((2, 3, 4)));
        let err = try_zeros::<f32, _>("states", (1 << 40, 1 << 40, 4)).unwrap_err().to_string();
        assert!(
            err.starts_with("states: cannot allocate") && err.contains("[1099511627776, 1099511627776, 4]"),
            "{err}"
        );
        let err = try_zeros::<f32, _>("states", (1usize << 61, 1)).unwrap_err().to_string();
        assert!(err.starts_with("states: cannot allocate"), "{err}");
    }
}
