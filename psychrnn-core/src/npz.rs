//! Writing NumPy `.npz` files (an uncompressed zip of `.npy` members, as `np.savez` writes).
//!
//! Written by hand (NPY v1.0 headers, stored zip entries, CRC-32) to stay dependency-free and
//! deterministic: entries carry a fixed timestamp, so the same arrays give the same bytes.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// The element data of an [`NpyArray`].
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// `float32` (`<f4`).
    F32(Vec<f32>),
    /// `float64` (`<f8`).
    F64(Vec<f64>),
    /// `int64` (`<i8`).
    I64(Vec<i64>),
    /// A 0-d unicode string (`<U{n}`).
    Str(String),
}

/// A named array to store in an `.npz` file.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Key in the archive (the member is `{name}.npy`).
    pub name: String,
    /// Shape (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// Elements in C (row-major) order.
    pub data: NpyData,
}

impl NpyArray {
    /// A `float32` array.
    pub fn f32(name: impl Into<String>, shape: &[usize], data: Vec<f32>) -> Self {
        NpyArray {
            name: name.into(),
            shape: shape.to_vec(),
            data: NpyData::F32(data),
        }
    }

    /// A `float64` array.
    pub fn f64(name: impl Into<String>, shape: &[usize], data: Vec<f64>) -> Self {
        NpyArray {
            name: name.into(),
            shape: shape.to_vec(),
            data: NpyData::F64(data),
        }
    }

    /// A 0-d unicode string.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        NpyArray {
            name: name.into(),
            shape: Vec::new(),
            data: NpyData::Str(value.into()),
        }
    }

    /// A `float32` array from any ndarray (copied in C order).
    pub fn from_ndarray<D: ndarray::Dimension>(
        name: impl Into<String>,
        a: &ndarray::Array<f32, D>,
    ) -> Self {
        NpyArray::f32(name, a.shape(), a.iter().copied().collect())
    }

    /// The `.npy` bytes: magic, version 1.0, header padded to a multiple of 64, data.
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        let (descr, payload): (String, Vec<u8>) = match &self.data {
            NpyData::F32(v) => (
                "<f4".into(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            NpyData::F64(v) => (
                "<f8".into(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            NpyData::I64(v) => (
                "<i8".into(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            NpyData::Str(s) => (
                format!("<U{}", s.chars().count().max(1)),
                if s.is_empty() {
                    vec![0; 4]
                } else {
                    s.chars().flat_map(|c| (c as u32).to_le_bytes()).collect()
                },
            ),
        };
        let shape = match self.shape.as_slice() {
            [] => "()".to_string(),
            [n] => format!("({n},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len() + payload.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

/// CRC-32 (IEEE 802.3, as zip uses).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The bytes of an `.npz` archive holding `arrays` (stored, uncompressed, fixed timestamps).
///
/// # Errors
/// [`Error::Invalid`] if two arrays share a name or a member would exceed 4 GiB.
pub fn npz_bytes(arrays: &[NpyArray]) -> Result<Vec<u8>> {
    const DOS_DATE_1980_01_01: u16 = 0x0021;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (i, a) in arrays.iter().enumerate() {
        if arrays[..i].iter().any(|b| b.name == a.name) {
            return Err(Error::invalid(
                &a.name,
                "two arrays with this name in one .npz file",
            ));
        }
        let name = format!("{}.npy", a.name);
        let data = a.to_npy_bytes();
        let size = u32::try_from(data.len())
            .map_err(|_| Error::invalid(&a.name, "array larger than 4 GiB cannot be stored"))?;
        let offset = u32::try_from(out.len()).map_err(|_| {
            Error::invalid(&a.name, ".npz file larger than 4 GiB cannot be written")
        })?;
        let crc = crc32(&data);
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes()); // version needed
            buf.extend_from_slice(&0u16.to_le_bytes()); // flags
            buf.extend_from_slice(&0u16.to_le_bytes()); // stored
            buf.extend_from_slice(&0u16.to_le_bytes()); // time 00:00:00
            buf.extend_from_slice(&DOS_DATE_1980_01_01.to_le_bytes());
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&(name.len() as u16).to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// Writes `arrays` to `path` as an `.npz` file (through a temporary file and a rename, so a
/// reader never sees half a file).
///
/// # Errors
/// [`Error::Write`] naming the path, or as [`npz_bytes`].
pub fn write_npz(path: &Path, arrays: &[NpyArray]) -> Result<()> {
    let bytes = npz_bytes(arrays)?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to `path` through `path.tmp` and a rename.
///
/// # Errors
/// [`Error::Write`] naming the path.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn npy_header_is_aligned_and_describes_the_array() {
        let a = NpyArray::f32("W", &[2, 3], vec![0.0; 6]);
        let bytes = a.to_npy_bytes();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 24);
        let s = NpyArray::string("f", "relu").to_npy_bytes();
        assert!(std::str::from_utf8(&s[10..60]).unwrap().contains("'<U4'"));
        let v = NpyArray::f64("b", &[3], vec![1.0; 3]).to_npy_bytes();
        assert!(std::str::from_utf8(&v[10..70]).unwrap().contains("(3,)"));
    }

    #[test]
    fn npz_is_deterministic_and_rejects_duplicate_names() {
        let arrays = vec![
            NpyArray::f32("a", &[1], vec![1.0]),
            NpyArray::f64("b", &[], vec![2.0]),
        ];
        let one = npz_bytes(&arrays).unwrap();
        assert_eq!(one, npz_bytes(&arrays).unwrap());
        assert_eq!(&one[..4], b"PK\x03\x04");
        let dup = vec![
            NpyArray::f32("a", &[1], vec![1.0]),
            NpyArray::f32("a", &[1], vec![1.0]),
        ];
        assert!(npz_bytes(&dup).is_err());
    }
}
