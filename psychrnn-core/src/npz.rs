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
        NpyArray { name: name.into(), shape: shape.to_vec(), data: NpyData::F32(data) }
    }

    /// A `float64` array.
    pub fn f64(name: impl Into<String>, shape: &[usize], data: Vec<f64>) -> Self {
        NpyArray { name: name.into(), shape: shape.to_vec(), data: NpyData::F64(data) }
    }

    /// A 0-d unicode string.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        NpyArray { name: name.into(), shape: Vec::new(), data: NpyData::Str(value.into()) }
    }

    /// A `float32` array from any ndarray (copied in C order).
    pub fn from_ndarray<D: ndarray::Dimension>(name: impl Into<String>, a: &ndarray::Array<f32, D>) -> Self {
        NpyArray::f32(name, a.shape(), a.iter().copied().collect())
    }

    /// A time-major `[T, B, N]` array (the internal layout) in PsychRNN's `[B, T, N]` layout.
    pub fn from_time_major(name: impl Into<String>, a: &ndarray::Array3<f32>) -> Self {
        let v = a.view().permuted_axes([1, 0, 2]);
        NpyArray::f32(name, v.shape(), v.iter().copied().collect())
    }

    /// The elements as `f32` (`float64` and `int64` converted); `None` for text.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        match &self.data {
            NpyData::F32(v) => Some(v.clone()),
            NpyData::F64(v) => Some(v.iter().map(|&x| x as f32).collect()),
            NpyData::I64(v) => Some(v.iter().map(|&x| x as f32).collect()),
            NpyData::Str(_) => None,
        }
    }

    /// The elements as `f64` (`float32` and `int64` converted); `None` for text.
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        match &self.data {
            NpyData::F32(v) => Some(v.iter().map(|&x| f64::from(x)).collect()),
            NpyData::F64(v) => Some(v.clone()),
            NpyData::I64(v) => Some(v.iter().map(|&x| x as f64).collect()),
            NpyData::Str(_) => None,
        }
    }

    /// The `.npy` bytes: magic, version 1.0, header padded to a multiple of 64, data.
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        let (descr, payload): (String, Vec<u8>) = match &self.data {
            NpyData::F32(v) => ("<f4".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            NpyData::F64(v) => ("<f8".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            NpyData::I64(v) => ("<i8".into(), v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            NpyData::Str(s) => (
                format!("<U{}", s.chars().count().max(1)),
                if s.is_empty() { vec![0; 4] } else { s.chars().flat_map(|c| (c as u32).to_le_bytes()).collect() },
            ),
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
        let mut out = Vec::with_capacity(10 + header.len() + payload.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

/// CRC-32 (IEEE 802.3, as zip uses), one table lookup per byte.
fn crc32(data: &[u8]) -> u32 {
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
    !data.iter().fold(!0u32, |crc, &byte| TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8))
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
            return Err(Error::invalid(&a.name, "two arrays with this name in one .npz file"));
        }
        let name = format!("{}.npy", a.name);
        let data = a.to_npy_bytes();
        let size = u32::try_from(data.len())
            .map_err(|_| Error::invalid(&a.name, "array larger than 4 GiB cannot be stored"))?;
        let offset = u32::try_from(out.len())
            .map_err(|_| Error::invalid(&a.name, ".npz file larger than 4 GiB cannot be written"))?;
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
    let err = |source| Error::Write { path: path.to_path_buf(), source };
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

fn parse_npy(name: &str, bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy member".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes.get(start..start + header_len).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> std::result::Result<&str, String> {
        let at = header.find(&format!("'{key}':")).ok_or(format!("header lacks '{key}'"))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr.trim_start_matches('\'').split('\'').next().unwrap_or_default().to_string();
    if field("fortran_order")?.starts_with("True") {
        return Err("Fortran-ordered arrays are not supported".into());
    }
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
    let count: usize = shape.iter().product();
    let data = &bytes[start + header_len..];
    let need = |width: usize| {
        if data.len() < count * width {
            Err(format!("truncated data: {} bytes for {count} values", data.len()))
        } else {
            Ok(())
        }
    };
    let data = match descr.as_str() {
        "<f4" => {
            need(4)?;
            NpyData::F32(
                data.chunks_exact(4).take(count).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            )
        }
        "<f8" => {
            need(8)?;
            NpyData::F64(
                data.chunks_exact(8).take(count).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
            )
        }
        "<i8" => {
            need(8)?;
            NpyData::I64(
                data.chunks_exact(8).take(count).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
            )
        }
        d if d.starts_with("<U") && shape.is_empty() => {
            let s: String = data
                .chunks_exact(4)
                .filter_map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .take_while(|&c| c != '\0')
                .collect();
            NpyData::Str(s)
        }
        "|O" => return Err("a pickled Python object array (not read without Python)".into()),
        other => return Err(format!("unsupported dtype {other}")),
    };
    Ok(NpyArray { name: name.to_string(), shape, data })
}

/// Reads an uncompressed `.npz` file (as `np.savez` writes). Members it cannot read (pickled
/// objects, other dtypes, compressed entries) are listed in [`NpzContents::skipped`].
///
/// # Errors
/// [`Error::Read`] if the file cannot be read; [`Error::Invalid`] naming the file if it is not a
/// zip archive or a member's bytes do not match its CRC-32 (a damaged file is never used).
pub fn read_npz(path: &Path) -> Result<NpzContents> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let bad = |why: &str| Error::invalid(path.display().to_string(), format!("not a readable .npz file: {why}"));
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], i: usize| b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&bytes, i) == Some(0x0605_4b50))
        .ok_or_else(|| bad("no zip directory"))?;
    let entries = u16_at(&bytes, eocd + 10).ok_or_else(|| bad("truncated"))?;
    let mut at = u32_at(&bytes, eocd + 16).ok_or_else(|| bad("truncated"))? as usize;
    let mut contents = NpzContents::default();
    for _ in 0..entries {
        if u32_at(&bytes, at) != Some(0x0201_4b50) {
            return Err(bad("corrupt zip directory"));
        }
        let field = |off| u16_at(&bytes, at + off).map(usize::from).ok_or_else(|| bad("truncated"));
        let method = field(10)?;
        let stored_crc = u32_at(&bytes, at + 16).ok_or_else(|| bad("truncated"))?;
        let size = u32_at(&bytes, at + 20).ok_or_else(|| bad("truncated"))? as usize;
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let local = u32_at(&bytes, at + 42).ok_or_else(|| bad("truncated"))? as usize;
        let name = String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| bad("truncated"))?)
            .to_string();
        at += 46 + name_len + extra_len + comment_len;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        if method != 0 {
            contents.skipped.push((key, "compressed member (np.savez_compressed) is not supported".into()));
            continue;
        }
        let data_start = local
            + 30
            + u16_at(&bytes, local + 26).map(usize::from).unwrap_or(0)
            + u16_at(&bytes, local + 28).map(usize::from).unwrap_or(0);
        match bytes.get(data_start..data_start + size) {
            Some(member) if crc32(member) != stored_crc => {
                return Err(Error::invalid(
                    path.display().to_string(),
                    format!(
                        "member '{name}' is corrupted (its CRC-32 does not match the zip directory); the file was damaged after it was written"
                    ),
                ));
            }
            Some(member) => match parse_npy(&key, member) {
                Ok(a) => contents.arrays.push(a),
                Err(why) => contents.skipped.push((key, why)),
            },
            None => return Err(bad("member extends past the end of the file")),
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
            assert!(parse_npy("a", &member).is_err(), "{header}");
        }
        assert!(parse_npy("a", b"\x93NUMPY\x01\x00\xff\xff").is_err());
        assert!(parse_npy("a", b"short").is_err());
    }

    #[test]
    fn pickled_object_members_are_skipped_with_a_reason() {
        let mut member = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
        member.extend_from_slice(&(header.len() as u16).to_le_bytes());
        member.extend_from_slice(header.as_bytes());
        let why = parse_npy("transfer_function", &member).unwrap_err();
        assert!(why.contains("pickled"), "{why}");
    }
}
