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
    /// A 1-d array of unicode strings (`<U{n}`, `n` the longest; shorter ones NUL-padded, as
    /// NumPy stores them), e.g. a label per fixed point.
    Strs(Vec<String>),
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
        NpyArray { name: name.into(), shape: shape.to_vec(), data: NpyData::F32(data) }
    }

    /// A `float64` array.
    pub fn f64(name: impl Into<String>, shape: &[usize], data: Vec<f64>) -> Self {
        NpyArray { name: name.into(), shape: shape.to_vec(), data: NpyData::F64(data) }
    }

    /// An `int64` array.
    pub fn i64(name: impl Into<String>, shape: &[usize], data: Vec<i64>) -> Self {
        NpyArray { name: name.into(), shape: shape.to_vec(), data: NpyData::I64(data) }
    }

    /// A 0-d unicode string.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        NpyArray { name: name.into(), shape: Vec::new(), data: NpyData::Str(value.into()) }
    }

    /// A 1-d array of unicode strings.
    pub fn strings(name: impl Into<String>, values: Vec<String>) -> Self {
        NpyArray { name: name.into(), shape: vec![values.len()], data: NpyData::Strs(values) }
    }

    /// A `float32` array from any ndarray (copied in C order).
    pub fn from_ndarray<D: ndarray::Dimension>(name: impl Into<String>, a: &ndarray::Array<f32, D>) -> Self {
        NpyArray::f32(name, a.shape(), a.iter().copied().collect())
    }

    /// A time-major `[T, B, N]` array (the internal layout) in PsychRNN's `[B, T, N]` layout.
    pub fn from_time_major<S: ndarray::Data<Elem = f32>>(
        name: impl Into<String>,
        a: &ndarray::ArrayBase<S, ndarray::Ix3>,
    ) -> Self {
        let v = a.view().permuted_axes([1, 0, 2]);
        NpyArray::f32(name, v.shape(), v.iter().copied().collect())
    }

    /// The elements as `f32` (`float64` and `int64` converted); `None` for text.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        match &self.data {
            NpyData::F32(v) => Some(v.clone()),
            NpyData::F64(v) => Some(v.iter().map(|&x| x as f32).collect()),
            NpyData::I64(v) => Some(v.iter().map(|&x| x as f32).collect()),
            NpyData::Str(_) | NpyData::Strs(_) => None,
        }
    }

    /// The elements as `f64` (`float32` and `int64` converted); `None` for text.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        match &self.data {
            NpyData::F32(v) => Some(v.iter().map(|&x| f64::from(x)).collect()),
            NpyData::F64(v) => Some(v.clone()),
            NpyData::I64(v) => Some(v.iter().map(|&x| x as f64).collect()),
            NpyData::Str(_) | NpyData::Strs(_) => None,
        }
    }

    /// The `.npy` header: magic, version 1.0, the header dictionary padded to a multiple of 64.
    fn npy_header(&self) -> Vec<u8> {
        let descr = match &self.data {
            NpyData::F32(_) => "<f4".to_string(),
            NpyData::F64(_) => "<f8".to_string(),
            NpyData::I64(_) => "<i8".to_string(),
            NpyData::Str(s) => format!("<U{}", s.chars().count().max(1)),
            NpyData::Strs(v) => format!("<U{}", longest_text(v)),
        };
        let shape = match self.shape.as_slice() {
            [] => "()".to_string(),
            [n] => format!("({n},)"),
            dims => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
        };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
        header.push('\n');
        let mut out = Vec::with_capacity(10 + header.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out
    }

    /// Bytes of the data after the header.
    fn payload_len(&self) -> usize {
        match &self.data {
            NpyData::F32(v) => 4 * v.len(),
            NpyData::F64(v) => 8 * v.len(),
            NpyData::I64(v) => 8 * v.len(),
            NpyData::Str(s) => 4 * s.chars().count().max(1),
            NpyData::Strs(v) => 4 * longest_text(v) * v.len(),
        }
    }

    /// Hands the data's little-endian bytes to `sink` a block at a time (no copy of the whole
    /// array is made).
    fn write_payload(&self, sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        const BLOCK: usize = 8192;
        fn blocks<T: Copy, const N: usize>(
            values: &[T],
            bytes: fn(T) -> [u8; N],
            sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            let mut buf = Vec::with_capacity(BLOCK * N);
            for chunk in values.chunks(BLOCK) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|&x| bytes(x)));
                sink(&buf)?;
            }
            Ok(())
        }
        match &self.data {
            NpyData::F32(v) => blocks(v, f32::to_le_bytes, sink),
            NpyData::F64(v) => blocks(v, f64::to_le_bytes, sink),
            NpyData::I64(v) => blocks(v, i64::to_le_bytes, sink),
            NpyData::Str(s) if s.is_empty() => sink(&[0; 4]),
            NpyData::Str(s) => blocks(&s.chars().map(|c| c as u32).collect::<Vec<_>>(), u32::to_le_bytes, sink),
            NpyData::Strs(v) => {
                let width = longest_text(v);
                let chars: Vec<u32> = v
                    .iter()
                    .flat_map(|s| s.chars().map(|c| c as u32).chain(std::iter::repeat(0)).take(width))
                    .collect();
                blocks(&chars, u32::to_le_bytes, sink)
            }
        }
    }

    /// The `.npy` bytes: magic, version 1.0, header padded to a multiple of 64, data.
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        let mut out = self.npy_header();
        out.reserve(self.payload_len());
        let _ = self.write_payload(&mut |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        out
    }
}

/// Characters in the longest of `texts` (at least 1: NumPy's `<U1` for empty strings).
fn longest_text(texts: &[String]) -> usize {
    texts.iter().map(|s| s.chars().count()).max().unwrap_or(0).max(1)
}

/// CRC-32 (IEEE 802.3, as zip uses), one table lookup per byte, continued from `crc` (0 to
/// start).
fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    !data.iter().fold(!crc, |crc, &byte| TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8))
}

/// CRC-32 of `data`.
fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

/// Refuses what an archive cannot hold: two arrays of one name, more than 65,535 members, a
/// member or an archive beyond 4 GiB (no zip64).
fn check_archive(arrays: &[NpyArray]) -> Result<()> {
    if arrays.len() > usize::from(u16::MAX) {
        return Err(Error::invalid("npz", format!("{} arrays: an .npz file holds at most 65535", arrays.len())));
    }
    let mut total = 22usize;
    for (i, a) in arrays.iter().enumerate() {
        if arrays[..i].iter().any(|b| b.name == a.name) {
            return Err(Error::invalid(&a.name, "two arrays with this name in one .npz file"));
        }
        let size = a.npy_header().len() + a.payload_len();
        if u32::try_from(size).is_err() {
            return Err(Error::invalid(&a.name, "array larger than 4 GiB cannot be stored"));
        }
        total += size + 2 * (46 + a.name.len() + 4);
        if u32::try_from(total).is_err() {
            return Err(Error::invalid(&a.name, ".npz file larger than 4 GiB cannot be written"));
        }
    }
    Ok(())
}

/// Writes the archive of `arrays` (already passed by [`check_archive`]) to `out`: each
/// member's CRC-32 is computed in a first pass over its data, then its local header and data
/// are written, a block at a time, so no copy of the whole archive is made.
fn write_archive(out: &mut dyn Write, arrays: &[NpyArray]) -> std::io::Result<()> {
    const DOS_DATE_1980_01_01: u16 = 0x0021;
    let mut central = Vec::new();
    let mut offset = 0u32;
    for a in arrays {
        let name = format!("{}.npy", a.name);
        let header = a.npy_header();
        let size = (header.len() + a.payload_len()) as u32;
        let mut crc = crc32(&header);
        a.write_payload(&mut |b| {
            crc = crc32_update(crc, b);
            Ok(())
        })?;
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
        let mut local = 0x0403_4b50u32.to_le_bytes().to_vec();
        common(&mut local);
        local.extend_from_slice(name.as_bytes());
        local.extend_from_slice(&header);
        out.write_all(&local)?;
        a.write_payload(&mut |b| out.write_all(b))?;

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        offset += (30 + name.len()) as u32 + size;
    }
    let cd_size = central.len() as u32;
    central.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    central.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    central.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    central.extend_from_slice(&cd_size.to_le_bytes());
    central.extend_from_slice(&offset.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    out.write_all(&central)
}

/// The bytes of an `.npz` archive holding `arrays` (stored, uncompressed, fixed timestamps).
///
/// # Errors
/// [`Error::Invalid`] if two arrays share a name or a member would exceed 4 GiB.
pub fn npz_bytes(arrays: &[NpyArray]) -> Result<Vec<u8>> {
    check_archive(arrays)?;
    let mut out = Vec::new();
    write_archive(&mut out, arrays).map_err(|e| Error::invalid("npz", e.to_string()))?;
    Ok(out)
}

/// Writes `arrays` to `path` as an `.npz` file, streamed (no copy of the archive in memory)
/// through a temporary file and a rename, so a reader never sees half a file.
///
/// # Errors
/// [`Error::Write`] naming the path, or as [`npz_bytes`].
pub fn write_npz(path: &Path, arrays: &[NpyArray]) -> Result<()> {
    check_archive(arrays)?;
    write_atomically_with(path, &mut |file| {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 16, file);
        write_archive(&mut buffered, arrays)?;
        buffered.flush()
    })
}

/// Writes `bytes` to `path` through `path.tmp` and a rename.
///
/// # Errors
/// [`Error::Write`] naming the path.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, &mut |file| file.write_all(bytes))
}

/// Writes `path` with `write` through `path.tmp`, synced and renamed, so that `path` is either
/// its old self or complete; a failed write leaves no temporary file.
///
/// # Errors
/// [`Error::Write`] naming the path.
pub fn write_atomically_with(
    path: &Path,
    write: &mut dyn FnMut(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let err = |source| Error::Write { path: path.to_path_buf(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        write(&mut f)?;
        f.sync_all()
    });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(source));
    }
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
        let arrays = vec![NpyArray::f32("a", &[1], vec![1.0]), NpyArray::f64("b", &[], vec![2.0])];
        let one = npz_bytes(&arrays).unwrap();
        assert_eq!(one, npz_bytes(&arrays).unwrap());
        assert_eq!(&one[..4], b"PK\x03\x04");
        let dup = vec![NpyArray::f32("a", &[1], vec![1.0]), NpyArray::f32("a", &[1], vec![1.0])];
        assert!(npz_bytes(&dup).is_err());
    }
}

/// What [`read_npz`] returns: the arrays it could read, and the members it skipped with why
/// (e.g. PsychRNN's pickled `dale_ratio`/`transfer_function` object arrays).
#[derive(Clone, Debug, Default)]
pub struct NpzContents {
    /// The arrays read, in archive order.
    pub arrays: Vec<NpyArray>,
    /// `(member name, reason)` of every member that was not read.
    pub skipped: Vec<(String, String)>,
}

impl NpzContents {
    /// The array called `name`.
    pub fn get(&self, name: &str) -> Option<&NpyArray> {
        self.arrays.iter().find(|a| a.name == name)
    }
}

/// The element types the reader takes, and how each becomes an [`NpyData`]: floats of 16 or 32
/// bits become `float32` (exactly), 64-bit floats `float64`, booleans and integers `int64`
/// (exactly; a `uint64` above `i64::MAX` is an error), either byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    Float(usize),
    Int(usize),
    Uint(usize),
    Bool,
}

impl Dtype {
    /// Parses a descriptor such as `<f4`, `>i2`, `|b1`, `|u1`; `None` if unsupported. The flag
    /// says whether the bytes are big-endian.
    fn parse(descr: &str) -> Option<(Dtype, bool)> {
        let (order, rest) = descr.split_at_checked(1)?;
        let big = match order {
            "<" | "|" | "=" => false,
            ">" => true,
            _ => return None,
        };
        let (kind, width) = rest.split_at_checked(1)?;
        let width: usize = width.parse().ok()?;
        let dtype = match (kind, width) {
            ("f", 2 | 4 | 8) => Dtype::Float(width),
            ("i", 1 | 2 | 4 | 8) => Dtype::Int(width),
            ("u", 1 | 2 | 4 | 8) => Dtype::Uint(width),
            ("b", 1) => Dtype::Bool,
            _ => return None,
        };
        Some((dtype, big))
    }

    fn width(self) -> usize {
        match self {
            Dtype::Float(w) | Dtype::Int(w) | Dtype::Uint(w) => w,
            Dtype::Bool => 1,
        }
    }

    /// The values of `count` elements of this type in `data` (checked to hold them).
    fn decode(self, big: bool, data: &[u8], count: usize) -> std::result::Result<NpyData, String> {
        let w = self.width();
        let word = |c: &[u8]| {
            let mut b = [0u8; 8];
            if big {
                for (i, &x) in c.iter().rev().enumerate() {
                    b[i] = x;
                }
            } else {
                b[..w].copy_from_slice(c);
            }
            u64::from_le_bytes(b)
        };
        let words = data.chunks_exact(w).take(count).map(word);
        Ok(match self {
            Dtype::Float(2) => NpyData::F32(words.map(|h| f16_to_f32(h as u16)).collect()),
            Dtype::Float(4) => NpyData::F32(words.map(|b| f32::from_bits(b as u32)).collect()),
            Dtype::Float(_) => NpyData::F64(words.map(f64::from_bits).collect()),
            Dtype::Int(_) => {
                let shift = 64 - 8 * w as u32;
                NpyData::I64(words.map(|b| ((b << shift) as i64) >> shift).collect())
            }
            Dtype::Uint(_) => NpyData::I64(
                words
                    .map(|b| i64::try_from(b).map_err(|_| format!("uint64 value {b} does not fit in int64")))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            Dtype::Bool => NpyData::I64(words.map(|b| i64::from(b != 0)).collect()),
        })
    }
}

/// An IEEE half-precision value as `f32` (exact: every `float16` is an `f32`).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exponent = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m * 2^-24.
            let value = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -value } else { value };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Reorders `data`, the elements of an array of `shape` in Fortran (column-major) order, into C
/// order.
fn fortran_to_c<T: Clone>(shape: &[usize], data: Vec<T>) -> std::result::Result<Vec<T>, String> {
    use ndarray::ShapeBuilder;
    let array = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape).f(), data).map_err(|e| e.to_string())?;
    Ok(array.iter().cloned().collect())
}

/// Parses the bytes of one `.npy` array (what [`read_npy`] reads; also the members of an
/// `.npz`), calling it `name`.
///
/// # Errors
/// Why the bytes are not a readable array.
pub fn npy_from_bytes(name: &str, bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy member".into());
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start.saturating_add(header_len)).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> std::result::Result<&str, String> {
        let at = header.find(&format!("'{key}':")).ok_or(format!("header lacks '{key}'"))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr.trim_start_matches('\'').split('\'').next().unwrap_or_default().to_string();
    let fortran = field("fortran_order")?.starts_with("True");
    let shape_text = field("shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|rest| rest.find(')').map(|end| &rest[..end]))
        .ok_or("malformed shape")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("malformed shape ({shape_text})")))
        .collect::<std::result::Result<_, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape ({shape_text}) has too many elements"))?;
    let data = &bytes[start + header_len..];
    let need = |width: usize| match count.checked_mul(width) {
        Some(n) if n <= data.len() => Ok(()),
        _ => Err(format!("truncated data: {} bytes for {count} values of {width} bytes", data.len())),
    };
    let data = if let Some((dtype, big)) = Dtype::parse(&descr) {
        need(dtype.width())?;
        let values = dtype.decode(big, data, count)?;
        match (fortran && shape.len() > 1, values) {
            (false, v) => v,
            (true, NpyData::F32(v)) => NpyData::F32(fortran_to_c(&shape, v)?),
            (true, NpyData::F64(v)) => NpyData::F64(fortran_to_c(&shape, v)?),
            (true, NpyData::I64(v)) => NpyData::I64(fortran_to_c(&shape, v)?),
            (true, other) => other,
        }
    } else if let Some(width) = descr.strip_prefix("<U").and_then(|w| w.parse::<usize>().ok()) {
        let text = |chunk: &[u8]| -> String {
            chunk
                .chunks_exact(4)
                .filter_map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .take_while(|&c| c != '\0')
                .collect()
        };
        match shape.len() {
            0 => NpyData::Str(text(data)),
            1 if width > 0 => {
                let bytes = width.checked_mul(4).ok_or_else(|| format!("text width {width} is too large"))?;
                need(bytes)?;
                NpyData::Strs(data.chunks_exact(bytes).take(count).map(text).collect())
            }
            1 if count == 0 => NpyData::Strs(Vec::new()),
            1 => return Err(format!("{count} text values of zero width ({descr}): NumPy writes text as <U1 at least")),
            _ => return Err(format!("text arrays of {} dimensions are not supported", shape.len())),
        }
    } else if descr == "|O" {
        return Err("a pickled Python object array (not read without Python)".into());
    } else if descr.contains('c') {
        return Err(format!("complex numbers ({descr}) are not supported"));
    } else {
        return Err(format!("unsupported dtype {descr} (supported: float16/32/64, int8-64, uint8-64, bool, 0-d text)"));
    };
    Ok(NpyArray { name: name.to_string(), shape, data })
}

/// The `size` bytes a deflated (`np.savez_compressed`) member inflates to, into a buffer
/// allocated fallibly once (a bad size is an error, not an abort).
fn inflate_member(compressed: &[u8], size: usize) -> std::result::Result<Vec<u8>, String> {
    use miniz_oxide::inflate::TINFLStatus;
    use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
    // Deflate expands at most 1032-fold: a larger size is a damaged directory (or a bomb), refused
    // before anything is allocated.
    if size > compressed.len().saturating_mul(1032).saturating_add(64) {
        return Err(format!(
            "the zip directory says {} compressed bytes inflate to {size}, more than deflate can",
            compressed.len()
        ));
    }
    let mut out = Vec::new();
    out.try_reserve_exact(size).map_err(|_| format!("cannot allocate the {size} bytes it inflates to"))?;
    out.resize(size, 0);
    let mut state = Box::<DecompressorOxide>::default();
    let (status, _, written) =
        decompress(&mut state, compressed, &mut out, 0, inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF);
    match status {
        TINFLStatus::Done if written == size => Ok(out),
        TINFLStatus::Done => Err(format!("inflates to {written} bytes, not the {size} the zip directory says")),
        TINFLStatus::HasMoreOutput => Err(format!("inflates to more than the {size} bytes the zip directory says")),
        other => Err(format!("its compressed data are damaged ({other:?})")),
    }
}

/// Reads an `.npz` file as `np.savez` or `np.savez_compressed` writes it (stored or deflated
/// members; float16/32/64, integer and boolean arrays in either byte order and C or Fortran
/// order, 0-d text). Members it cannot read (pickled objects, complex numbers) are listed in
/// [`NpzContents::skipped`] with the reason.
///
/// # Errors
/// [`Error::Read`] if the file cannot be read; [`Error::Invalid`] naming the file if it is not a
/// zip archive or a member's bytes do not match its CRC-32 (a damaged file is never used).
pub fn read_npz(path: &Path) -> Result<NpzContents> {
    npz_from_bytes(&read_file(path)?, path)
}

/// The bytes of the file at `path`, its memory reserved fallibly (a file too large for memory is
/// an error naming it, not an abort).
fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let len = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::new();
    usize::try_from(len).ok().and_then(|n| bytes.try_reserve_exact(n).ok()).ok_or_else(|| {
        Error::invalid(path.display().to_string(), format!("{len} bytes: too large to read into memory"))
    })?;
    file.read_to_end(&mut bytes).map_err(read_error)?;
    Ok(bytes)
}

/// Reads a standalone `.npy` file (as `np.save` writes), with the dtypes and orders of
/// [`read_npz`]; the array is named after the file stem.
///
/// # Errors
/// [`Error::Read`] if the file cannot be read; [`Error::Invalid`] naming the file with the
/// reason it cannot be read.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = read_file(path)?;
    let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    npy_from_bytes(&name, &bytes).map_err(|why| Error::invalid(path.display().to_string(), why))
}

/// Parses the bytes of an `.npz` archive as [`read_npz`] does; `path` names it in errors.
///
/// # Errors
/// As [`read_npz`].
pub fn npz_from_bytes(bytes: &[u8], path: &Path) -> Result<NpzContents> {
    let bad = |why: &str| Error::invalid(path.display().to_string(), format!("not a readable .npz file: {why}"));
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], i: usize| b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(bytes, i) == Some(0x0605_4b50))
        .ok_or_else(|| bad("no zip directory"))?;
    let entries = u16_at(bytes, eocd + 10).ok_or_else(|| bad("truncated"))?;
    let mut at = u32_at(bytes, eocd + 16).ok_or_else(|| bad("truncated"))? as usize;
    let mut contents = NpzContents::default();
    for _ in 0..entries {
        if u32_at(bytes, at) != Some(0x0201_4b50) {
            return Err(bad("corrupt zip directory"));
        }
        let field = |off| u16_at(bytes, at + off).map(usize::from).ok_or_else(|| bad("truncated"));
        let method = field(10)?;
        let stored_crc = u32_at(bytes, at + 16).ok_or_else(|| bad("truncated"))?;
        let size = u32_at(bytes, at + 20).ok_or_else(|| bad("truncated"))? as usize;
        let inflated_size = u32_at(bytes, at + 24).ok_or_else(|| bad("truncated"))? as usize;
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let local = u32_at(bytes, at + 42).ok_or_else(|| bad("truncated"))? as usize;
        let name = String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| bad("truncated"))?)
            .to_string();
        at += 46 + name_len + extra_len + comment_len;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        if method != 0 && method != 8 {
            contents
                .skipped
                .push((key, format!("zip compression method {method} (only stored and deflated members are read)")));
            continue;
        }
        let data_start = local
            + 30
            + u16_at(bytes, local + 26).map(usize::from).unwrap_or(0)
            + u16_at(bytes, local + 28).map(usize::from).unwrap_or(0);
        let Some(raw) = bytes.get(data_start..data_start.saturating_add(size)) else {
            return Err(bad("member extends past the end of the file"));
        };
        let inflated;
        let member = if method == 8 {
            inflated = inflate_member(raw, inflated_size)
                .map_err(|why| Error::invalid(path.display().to_string(), format!("member '{name}': {why}")))?;
            &inflated[..]
        } else {
            raw
        };
        if crc32(member) != stored_crc {
            return Err(Error::invalid(
                path.display().to_string(),
                format!(
                    "member '{name}' is corrupted (its CRC-32 does not match the zip directory); the file was damaged after it was written"
                ),
            ));
        }
        match npy_from_bytes(&key, member) {
            Ok(a) => contents.arrays.push(a),
            Err(why) => contents.skipped.push((key, why)),
        }
    }
    Ok(contents)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn written_files_read_back_exactly() {
        let arrays = vec![
            NpyArray::f32("W_rec", &[2, 3], vec![1.0, -2.5, 3.0, 0.0, 1e-30, f32::MAX]),
            NpyArray::f64("dale_ratio", &[], vec![0.8]),
            NpyArray::string("transfer_function_name", "relu"),
            NpyArray::f32("b", &[4], vec![0.5; 4]),
            NpyArray::strings("class", vec!["stable".into(), "saddle".into(), String::new()]),
        ];
        let dir = std::env::temp_dir().join(format!("psychrnn-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.npz");
        write_npz(&path, &arrays).unwrap();
        let back = read_npz(&path).unwrap();
        assert_eq!(back.arrays, arrays);
        assert!(back.skipped.is_empty());
        std::fs::write(dir.join("bad.npz"), b"hello").unwrap();
        let err = read_npz(&dir.join("bad.npz")).unwrap_err().to_string();
        assert!(err.contains("bad.npz") && err.contains("not a readable .npz"), "{err}");
        assert!(matches!(read_npz(&dir.join("missing.npz")), Err(Error::Read { .. })));
        let mut flipped = std::fs::read(&path).unwrap();
        let at = flipped.windows(4).position(|w| w == 1.0f32.to_le_bytes()).unwrap();
        flipped[at] ^= 0x40;
        std::fs::write(dir.join("flipped.npz"), &flipped).unwrap();
        let err = read_npz(&dir.join("flipped.npz")).unwrap_err().to_string();
        assert!(
            err.contains("flipped.npz") && err.contains("'W_rec.npy' is corrupted") && err.contains("CRC-32"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn malformed_headers_are_reported_not_panicked_on() {
        for header in [
            "{'descr': '<f4', 'fortran_order': False, 'shape': )",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
            "{'descr': '<f4'}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }",
        ] {
            let mut member = b"\x93NUMPY\x01\x00".to_vec();
            member.extend_from_slice(&(header.len() as u16).to_le_bytes());
            member.extend_from_slice(header.as_bytes());
            assert!(npy_from_bytes("a", &member).is_err(), "{header}");
        }
        assert!(npy_from_bytes("a", b"\x93NUMPY\x01\x00\xff\xff").is_err());
        assert!(npy_from_bytes("a", b"short").is_err());
    }

    /// The arrays `tests/fixtures/make_numpy_fixtures.py` has NumPy write, read value by value,
    /// from `np.savez` and from `np.savez_compressed`.
    #[test]
    fn what_numpy_writes_is_read_exactly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let a = [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75];
        for file in ["numpy_dtypes.npz", "numpy_compressed.npz"] {
            let got = read_npz(&dir.join(file)).unwrap();
            let array =
                |name: &str| got.get(name).unwrap_or_else(|| panic!("{file}: {name} missing: {:?}", got.skipped));
            for name in ["f16", "f32", "f32_big", "fortran"] {
                assert_eq!(array(name).shape, [2, 3], "{file} {name}");
                assert_eq!(array(name).data, NpyData::F32(a.map(|x| x as f32).to_vec()), "{file} {name}");
            }
            assert_eq!(array("f64").data, NpyData::F64(a.to_vec()));
            let ints = |name: &str| match &array(name).data {
                NpyData::I64(v) => v.clone(),
                other => panic!("{file} {name}: {other:?}"),
            };
            assert_eq!(ints("i8"), [-128, 0, 127]);
            assert_eq!(ints("i16"), [-32768, 1, 32767]);
            assert_eq!(ints("i32"), [-(1 << 31), 2, (1 << 31) - 1]);
            assert_eq!(ints("i64"), [i64::MIN, 3, i64::MAX]);
            assert_eq!(ints("u8"), [0, 1, 255]);
            assert_eq!(ints("u16_big"), [0, 1, 65535]);
            assert_eq!((ints("mask"), array("mask").shape.clone()), (vec![1, 0, 1, 0, 1, 1], vec![2, 3]));
            let NpyData::F32(special) = &array("f16_special").data else { panic!("f16_special") };
            assert_eq!(special[..2], [f32::INFINITY, f32::NEG_INFINITY]);
            assert_eq!(special[2], f32::from_bits(0x3380_0000)); // 6e-8 as float16: 2^-24, subnormal
            assert_eq!(special[3], 65504.0);
            assert!(special[4] == 0.0 && special[4].is_sign_negative());
            let (name, why) = got.skipped.iter().find(|(n, _)| n == "complex").expect("complex is skipped");
            assert!(why.contains("complex numbers") && why.contains("<c16"), "{name}: {why}");
        }
    }

    #[test]
    fn damaged_compressed_members_are_errors_naming_the_member() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut bytes = std::fs::read(dir.join("numpy_compressed.npz")).unwrap();
        // Flip a byte inside the first member's deflated data (after its 30-byte header, name
        // and extra field).
        let name_len = usize::from(u16::from_le_bytes([bytes[26], bytes[27]]));
        let extra_len = usize::from(u16::from_le_bytes([bytes[28], bytes[29]]));
        bytes[30 + name_len + extra_len + 10] ^= 0x55;
        let tmp = std::env::temp_dir().join(format!("psychrnn-npz-deflate-{}.npz", std::process::id()));
        std::fs::write(&tmp, &bytes).unwrap();
        let err = read_npz(&tmp).unwrap_err().to_string();
        std::fs::remove_file(&tmp).unwrap();
        assert!(err.contains("member 'f16.npy'"), "{err}");
        // A directory claiming a size deflate cannot reach is refused before allocating it.
        let mut bytes = std::fs::read(dir.join("numpy_compressed.npz")).unwrap();
        let central = bytes.windows(4).position(|w| w == 0x0201_4b50u32.to_le_bytes()).unwrap();
        bytes[central + 24..central + 28].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&tmp, &bytes).unwrap();
        let err = read_npz(&tmp).unwrap_err().to_string();
        std::fs::remove_file(&tmp).unwrap();
        assert!(err.contains("member 'f16.npy'") && err.contains("more than deflate can"), "{err}");
    }

    #[test]
    fn zero_width_text_of_any_length_is_refused_not_allocated() {
        // Found by psychrnn-fuzz: `<U0` with shape (2^64 - 1,) asked for that many strings.
        let header = "{'descr': '<U0', 'fortran_order': True, 'shape': (18446744073709551615,), }";
        let mut member = b"\x93NUMPY\x01\x00".to_vec();
        member.extend_from_slice(&(header.len() as u16).to_le_bytes());
        member.extend_from_slice(header.as_bytes());
        assert!(npy_from_bytes("a", &member).unwrap_err().contains("zero width"));
    }

    #[test]
    fn a_shape_whose_size_overflows_is_an_error() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 4), }";
        let mut member = b"\x93NUMPY\x01\x00".to_vec();
        member.extend_from_slice(&(header.len() as u16).to_le_bytes());
        member.extend_from_slice(header.as_bytes());
        let why = npy_from_bytes("a", &member).unwrap_err();
        assert!(why.contains("too many elements"), "{why}");
    }

    #[test]
    fn pickled_object_members_are_skipped_with_a_reason() {
        let mut member = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
        member.extend_from_slice(&(header.len() as u16).to_le_bytes());
        member.extend_from_slice(header.as_bytes());
        let why = npy_from_bytes("transfer_function", &member).unwrap_err();
        assert!(why.contains("pickled"), "{why}");
    }
}
