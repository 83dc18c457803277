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
