//! `.npy` files: reading `<f4` / `<f8` arrays with their shape, and atomic writes of f32 / f64.
//!
//! Thin helpers over `npyz`. Reads take the whole file into memory first and check that the
//! header's shape matches the bytes actually present before decoding, so a corrupt header can
//! never size an allocation. Writes are atomic ([`atomic::write_with`]), so a killed process
//! never leaves a half-written array behind.

use std::fs::File;
use std::io::{BufWriter, Cursor};
use std::path::Path;

use npyz::{DType, NpyHeader, Order, TypeStr, WriteOptions, WriterBuilder};

use crate::base::{atomic, Error, Result};

/// An n-dimensional array read from (or to be written to) a `.npy` file, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array<T> {
    /// Length of each axis, slowest first (NumPy's `shape`).
    pub shape: Vec<usize>,
    /// The elements in C (row-major) order; its length is the product of `shape`.
    pub data: Vec<T>,
}

/// Element types this module reads and writes.
pub trait Element: Copy + 'static {
    /// NumPy type string written for this type.
    const DESCR: &'static str;
    /// Converts one stored `<f4` value.
    fn from_f32(v: f32) -> Self;
    /// Converts one stored `<f8` value.
    fn from_f64(v: f64) -> Self;
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Element for f64 {
    const DESCR: &'static str = "<f8";
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

fn npy_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a `.npy` file of `<f4` or `<f8` values as f32 (f64 values are rounded).
pub fn read_f32(path: impl AsRef<Path>) -> Result<Array<f32>> {
    read(path.as_ref())
}

/// Reads a `.npy` file of `<f4` or `<f8` values as f64 (f32 values are widened exactly).
pub fn read_f64(path: impl AsRef<Path>) -> Result<Array<f64>> {
    read(path.as_ref())
}

/// Writes `data` with `shape` as a little-endian `<f4` C-order `.npy` file, atomically.
pub fn write_f32(path: impl AsRef<Path>, data: &[f32], shape: &[usize]) -> Result<()> {
    write(path.as_ref(), data, shape)
}

/// Writes `data` with `shape` as a little-endian `<f8` C-order `.npy` file, atomically.
pub fn write_f64(path: impl AsRef<Path>, data: &[f64], shape: &[usize]) -> Result<()> {
    write(path.as_ref(), data, shape)
}

/// Reads any `<f4` / `<f8` `.npy` file as `T`.
pub fn read<T: Element>(path: &Path) -> Result<Array<T>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(path, &bytes)
}

/// Decodes the bytes of a `.npy` file; `path` only names the source in errors.
pub fn decode<T: Element>(path: &Path, bytes: &[u8]) -> Result<Array<T>> {
    let mut cursor = Cursor::new(bytes);
    let header = NpyHeader::from_reader(&mut cursor)
        .map_err(|e| npy_error(path, format!("not a valid .npy header: {e}")))?;
    let descr = match header.dtype() {
        DType::Plain(ts) => ts.to_string(),
        other => {
            return Err(npy_error(
                path,
                format!("unsupported dtype {}: expected <f4 or <f8", other.descr()),
            ))
        }
    };
    let item = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        _ => {
            return Err(npy_error(
                path,
                format!("unsupported dtype {descr}: expected <f4 or <f8 (little-endian float)"),
            ))
        }
    };
    let shape: Vec<usize> = header
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| npy_error(path, "shape too large for this machine"))?;
    if header.order() == Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(npy_error(
            path,
            "Fortran-order array: save it in C order (np.ascontiguousarray)",
        ));
    }
    let body = &bytes[cursor.position() as usize..];
    let expected = shape
        .iter()
        .try_fold(item, |acc: usize, &d| acc.checked_mul(d))
        .ok_or_else(|| npy_error(path, format!("shape {shape:?} overflows")))?;
    if body.len() != expected {
        return Err(npy_error(
            path,
            format!(
                "shape {shape:?} of {descr} needs {expected} data bytes but the file has {} \
                 (truncated or corrupt)",
                body.len()
            ),
        ));
    }
    let data = if item == 4 {
        body.chunks_exact(4)
            .map(|c| T::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    } else {
        body.chunks_exact(8)
            .map(|c| {
                T::from_f64(f64::from_le_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect()
    };
    Ok(Array { shape, data })
}

/// Writes `data` as a C-order `.npy` of `T::DESCR` with `shape`, via a temporary sibling file.
pub fn write<T: Element + npyz::Serialize>(path: &Path, data: &[T], shape: &[usize]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if count != Some(data.len()) {
        return Err(npy_error(
            path,
            format!(
                "cannot write {} values with shape {shape:?} (the shape holds {})",
                data.len(),
                count.map_or_else(|| "too many".to_string(), |c| c.to_string())
            ),
        ));
    }
    atomic::write_with(path, |tmp| write_to(tmp, data, shape))
}

fn write_to<T: Element + npyz::Serialize>(tmp: &Path, data: &[T], shape: &[usize]) -> Result<()> {
    let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    let dtype: TypeStr = T::DESCR
        .parse()
        .map_err(|e| npy_error(tmp, format!("dtype {}: {e}", T::DESCR)))?;
    let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = WriteOptions::<T>::new()
        .dtype(DType::Plain(dtype))
        .shape(&shape_u64)
        .writer(BufWriter::with_capacity(1 << 16, file))
        .begin_nd()
        .map_err(|e| Error::io(tmp, e))?;
    writer
        .extend(data.iter().copied())
        .map_err(|e| Error::io(tmp, e))?;
    writer.finish().map_err(|e| Error::io(tmp, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_f32_and_f64_with_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
        write_f32(&p, &data, &[2, 3]).unwrap();
        let back = read_f32(&p).unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(back.data, data);
        let wide = read_f64(&p).unwrap();
        assert_eq!(wide.data[5], 1.5);

        let q = dir.path().join("b.npy");
        write_f64(&q, &[1e-300, -2.0, 3.25], &[3]).unwrap();
        let back = read_f64(&q).unwrap();
        assert_eq!(back.shape, vec![3]);
        assert_eq!(back.data, vec![1e-300, -2.0, 3.25]);
        assert_eq!(read_f32(&q).unwrap().data, vec![0.0, -2.0, 3.25]);
        // No temporary file is left beside the array.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn header_is_numpy_v1_little_endian_c_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.npy");
        write_f32(&p, &[1.0, 2.0], &[1, 2]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let text = String::from_utf8_lossy(&bytes[10..]);
        assert!(text.contains("'descr': '<f4'"), "{text}");
        assert!(text.contains("'fortran_order': False"), "{text}");
        // npyz writes a trailing comma, `(1, 2, )`, which NumPy parses as the same tuple.
        assert!(text.contains("'shape': (1, 2, )"), "{text}");
        assert_eq!(bytes.len() % 64, 8); // 64-byte aligned header + 2 × 4 data bytes
    }

    #[test]
    fn rejects_bad_shape_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npy");
        let err = write_f32(&p, &[1.0, 2.0, 3.0], &[2, 2]).unwrap_err();
        assert!(err.to_string().contains("bad.npy"), "{err}");
        assert!(!p.exists());
    }

    #[test]
    fn rejects_truncated_and_wrong_dtype_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.npy");
        write_f32(&p, &[1.0; 10], &[10]).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&p, &bytes).unwrap();
        let err = read_f32(&p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("t.npy") && msg.contains("truncated"), "{msg}");

        // A header claiming a huge shape must fail on the size check, not allocate.
        let h = dir.path().join("huge.npy");
        std::fs::write(&h, header_bytes("<f4", "(9999999999999,)", 40)).unwrap();
        let msg = read_f32(&h).unwrap_err().to_string();
        assert!(
            msg.contains("huge.npy") && msg.contains("truncated"),
            "{msg}"
        );

        let i = dir.path().join("int.npy");
        std::fs::write(&i, header_bytes("<i4", "(1,)", 4)).unwrap();
        let msg = read_f64(&i).unwrap_err().to_string();
        assert!(msg.contains("int.npy") && msg.contains("<i4"), "{msg}");

        let g = dir.path().join("garbage.npy");
        std::fs::write(&g, b"not an npy file at all").unwrap();
        assert!(read_f32(&g)
            .unwrap_err()
            .to_string()
            .contains("garbage.npy"));
        assert!(read_f32(dir.path().join("missing.npy")).is_err());
    }

    fn header_bytes(descr: &str, shape: &str, data_len: usize) -> Vec<u8> {
        let mut dict =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + dict.len() + 1) % 64 != 0 {
            dict.push(' ');
        }
        dict.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data_len));
        out
    }

    #[test]
    fn reads_numpy_written_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("np.npy");
        let mut bytes = header_bytes("<f8", "(2,)", 0);
        bytes.extend_from_slice(&0.25f64.to_le_bytes());
        bytes.extend_from_slice(&(-4.0f64).to_le_bytes());
        std::fs::write(&p, bytes).unwrap();
        let a = read_f32(&p).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data, vec![0.25, -4.0]);
    }
}
