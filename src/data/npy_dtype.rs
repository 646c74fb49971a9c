//! NumPy element types as the `.npy` header (`descr`, e.g. `'<f4'`) and pickled `numpy.dtype`
//! objects spell them, and the decoding of a raw element buffer into [`ArrayData`].
//!
//! Follows NumPy's array-interface type strings (`numpy/lib/format.py`, "NEP 1"): a byte-order
//! character (`<` little, `>` big, `|` not applicable, `=` native), a kind character and an item
//! size in bytes. The kinds AlphaFold's feature files use are covered: `f4 f8 i4 i8 u1 b1`, fixed
//! width byte strings `S<n>`, fixed width unicode `U<n>` (UCS-4) and Python objects `O`.
use super::array::{ArrayData, NpArray};
use anyhow::{bail, Context, Result};

/// Kind of element, with everything needed to decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    F32,
    F64,
    I32,
    I64,
    U8,
    Bool,
    /// Fixed-width byte string of the given length (`S<n>`).
    FixedBytes(usize),
    /// Fixed-width UCS-4 string of the given number of characters (`U<n>`).
    FixedUnicode(usize),
    /// Python objects (`O`): only readable from pickles, where they are a list of values.
    Object,
}

/// A parsed NumPy dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    pub kind: ElementKind,
    pub big_endian: bool,
}

impl Dtype {
    /// Parses a type string such as `<f4`, `|b1`, `S12`, `O8`, `i4` (no order: native, which is
    /// little-endian on every machine this crate targets).
    pub fn parse(type_string: &str) -> Result<Self> {
        let (big_endian, rest) = match type_string.chars().next() {
            Some('<') | Some('|') | Some('=') => (false, &type_string[1..]),
            Some('>') => (true, &type_string[1..]),
            _ => (false, type_string),
        };
        let kind_char = rest
            .chars()
            .next()
            .with_context(|| format!("empty dtype string {type_string:?}"))?;
        let size_text = &rest[kind_char.len_utf8()..];
        let size: usize = if size_text.is_empty() {
            0
        } else {
            size_text
                .parse()
                .with_context(|| format!("dtype {type_string:?} has no valid item size"))?
        };
        let kind = match (kind_char, size) {
            ('f', 4) => ElementKind::F32,
            ('f', 8) => ElementKind::F64,
            ('i', 4) => ElementKind::I32,
            ('i', 8) => ElementKind::I64,
            ('u', 1) => ElementKind::U8,
            ('b', 1) | ('?', 0) => ElementKind::Bool,
            ('S', n) | ('a', n) => ElementKind::FixedBytes(n),
            ('U', n) => ElementKind::FixedUnicode(n),
            ('O', _) => ElementKind::Object,
            _ => bail!("unsupported NumPy dtype {type_string:?}"),
        };
        Ok(Self { kind, big_endian })
    }

    /// The type string `.npy` headers use for this dtype (little-endian where it matters).
    pub fn descr(&self) -> String {
        match self.kind {
            ElementKind::F32 => "<f4".into(),
            ElementKind::F64 => "<f8".into(),
            ElementKind::I32 => "<i4".into(),
            ElementKind::I64 => "<i8".into(),
            ElementKind::U8 => "|u1".into(),
            ElementKind::Bool => "|b1".into(),
            ElementKind::FixedBytes(n) => format!("|S{n}"),
            ElementKind::FixedUnicode(n) => format!("<U{n}"),
            ElementKind::Object => "|O".into(),
        }
    }

    /// Bytes per element in a raw buffer (`None` for objects, which have no raw form, and for
    /// sizes that overflow).
    pub fn item_size(&self) -> Option<usize> {
        match self.kind {
            ElementKind::F32 | ElementKind::I32 => Some(4),
            ElementKind::F64 | ElementKind::I64 => Some(8),
            ElementKind::U8 | ElementKind::Bool => Some(1),
            ElementKind::FixedBytes(n) => Some(n),
            ElementKind::FixedUnicode(n) => n.checked_mul(4),
            ElementKind::Object => None,
        }
    }

    /// Decodes `count` elements from a raw buffer, which must hold exactly that many.
    pub fn decode(&self, raw: &[u8], count: usize) -> Result<ArrayData> {
        if self.kind == ElementKind::Object {
            bail!("object arrays have no raw byte form");
        }
        let item = self
            .item_size()
            .with_context(|| format!("dtype item size of {:?} overflows", self.kind))?;
        if item == 0 && count > u32::MAX as usize {
            bail!("{count} zero-width strings is not a plausible array");
        }
        let expected = item
            .checked_mul(count)
            .context("array byte size overflows")?;
        if raw.len() != expected {
            bail!(
                "{count} elements of dtype {} need {expected} bytes, found {}",
                self.descr(),
                raw.len()
            );
        }
        let big = self.big_endian;
        Ok(match self.kind {
            ElementKind::F32 => ArrayData::F32(fixed_chunks(raw, big, f32::from_le_bytes)),
            ElementKind::F64 => ArrayData::F64(fixed_chunks(raw, big, f64::from_le_bytes)),
            ElementKind::I32 => ArrayData::I32(fixed_chunks(raw, big, i32::from_le_bytes)),
            ElementKind::I64 => ArrayData::I64(fixed_chunks(raw, big, i64::from_le_bytes)),
            ElementKind::U8 => ArrayData::U8(raw.to_vec()),
            ElementKind::Bool => ArrayData::Bool(raw.iter().map(|&b| b != 0).collect()),
            ElementKind::FixedBytes(0) | ElementKind::FixedUnicode(0) => {
                ArrayData::Bytes(vec![Vec::new(); count])
            }
            ElementKind::FixedBytes(n) => ArrayData::Bytes(
                raw.chunks_exact(n)
                    .map(|s| trim_trailing_nuls(s).to_vec())
                    .collect(),
            ),
            ElementKind::FixedUnicode(n) => {
                let mut strings = Vec::with_capacity(count);
                for chunk in raw.chunks_exact(4 * n) {
                    let code_points: Vec<u32> = fixed_chunks(chunk, big, u32::from_le_bytes);
                    let mut text = String::new();
                    for &code in code_points.iter().take_while(|&&c| c != 0) {
                        text.push(
                            char::from_u32(code)
                                .with_context(|| format!("invalid code point {code:#x}"))?,
                        );
                    }
                    strings.push(text.into_bytes());
                }
                ArrayData::Bytes(strings)
            }
            ElementKind::Object => unreachable!("objects were rejected above"),
        })
    }

    /// The dtype an array's data is written with (byte strings as `S<longest>`).
    pub fn of(data: &ArrayData) -> Self {
        let kind = match data {
            ArrayData::F32(_) => ElementKind::F32,
            ArrayData::F64(_) => ElementKind::F64,
            ArrayData::I32(_) => ElementKind::I32,
            ArrayData::I64(_) => ElementKind::I64,
            ArrayData::U8(_) => ElementKind::U8,
            ArrayData::Bool(_) => ElementKind::Bool,
            ArrayData::Bytes(v) => {
                ElementKind::FixedBytes(v.iter().map(Vec::len).max().unwrap_or(0).max(1))
            }
        };
        Self {
            kind,
            big_endian: false,
        }
    }
}

/// Little-endian raw bytes of an array's elements (byte strings NUL-padded to `width`).
pub fn encode(data: &ArrayData) -> Vec<u8> {
    match data {
        ArrayData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ArrayData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ArrayData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ArrayData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ArrayData::U8(v) => v.clone(),
        ArrayData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
        ArrayData::Bytes(v) => {
            let width = v.iter().map(Vec::len).max().unwrap_or(0).max(1);
            let mut out = Vec::with_capacity(width * v.len());
            for s in v {
                out.extend_from_slice(s);
                out.resize(out.len() + width - s.len(), 0);
            }
            out
        }
    }
}

/// Reorders a Fortran-order (column-major) element sequence into C order for `shape`.
pub fn fortran_to_c_order(array: NpArray) -> NpArray {
    let NpArray { shape, data } = array;
    if shape.len() < 2 {
        return NpArray { shape, data };
    }
    let data = match data {
        ArrayData::F32(v) => ArrayData::F32(permute_fortran(&v, &shape)),
        ArrayData::F64(v) => ArrayData::F64(permute_fortran(&v, &shape)),
        ArrayData::I32(v) => ArrayData::I32(permute_fortran(&v, &shape)),
        ArrayData::I64(v) => ArrayData::I64(permute_fortran(&v, &shape)),
        ArrayData::U8(v) => ArrayData::U8(permute_fortran(&v, &shape)),
        ArrayData::Bool(v) => ArrayData::Bool(permute_fortran(&v, &shape)),
        ArrayData::Bytes(v) => ArrayData::Bytes(permute_fortran(&v, &shape)),
    };
    NpArray { shape, data }
}

/// `out[c_index(i)] = v[f_index(i)]` for every multi-index `i` of `shape`.
fn permute_fortran<T: Clone>(values: &[T], shape: &[usize]) -> Vec<T> {
    let count = values.len();
    let mut fortran_strides = vec![1usize; shape.len()];
    for axis in 1..shape.len() {
        fortran_strides[axis] = fortran_strides[axis - 1] * shape[axis - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let source: usize = index.iter().zip(&fortran_strides).map(|(i, s)| i * s).sum();
        out.push(values[source].clone());
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

fn trim_trailing_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &bytes[..end]
}

/// Splits `raw` into `N`-byte elements, reversing each first when the data is big-endian.
fn fixed_chunks<T, const N: usize>(
    raw: &[u8],
    big_endian: bool,
    from_le: fn([u8; N]) -> T,
) -> Vec<T> {
    raw.chunks_exact(N)
        .map(|chunk| {
            let mut bytes = [0u8; N];
            bytes.copy_from_slice(chunk);
            if big_endian {
                bytes.reverse();
            }
            from_le(bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_strings() {
        assert_eq!(Dtype::parse("<f4").unwrap().kind, ElementKind::F32);
        assert!(Dtype::parse(">i8").unwrap().big_endian);
        assert_eq!(
            Dtype::parse("S12").unwrap().kind,
            ElementKind::FixedBytes(12)
        );
        assert_eq!(Dtype::parse("O8").unwrap().kind, ElementKind::Object);
        assert_eq!(Dtype::parse("|b1").unwrap().kind, ElementKind::Bool);
        let err = Dtype::parse("<c16").unwrap_err();
        assert!(err.to_string().contains("unsupported NumPy dtype"), "{err}");
        assert!(Dtype::parse("").is_err());
    }

    #[test]
    fn decodes_big_endian_and_strings() {
        let big = Dtype::parse(">i4").unwrap();
        assert_eq!(
            big.decode(&[0, 0, 1, 2], 1).unwrap(),
            ArrayData::I32(vec![258])
        );
        let unicode = Dtype::parse("<U2").unwrap();
        let raw = [b'h', 0, 0, 0, 0, 0, 0, 0, b'o', 0, 0, 0, b'k', 0, 0, 0];
        assert_eq!(
            unicode.decode(&raw, 2).unwrap(),
            ArrayData::Bytes(vec![b"h".to_vec(), b"ok".to_vec()])
        );
        assert!(big.decode(&[0, 0, 1], 1).is_err());
        let absurd = Dtype::parse(&format!("<U{}", usize::MAX / 2)).unwrap();
        assert!(absurd.decode(&[], 1).is_err());
    }

    #[test]
    fn fortran_order_becomes_c_order() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let fortran = NpArray::new(vec![2, 3], ArrayData::I32(vec![1, 4, 2, 5, 3, 6])).unwrap();
        let c = fortran_to_c_order(fortran);
        assert_eq!(c.data, ArrayData::I32(vec![1, 2, 3, 4, 5, 6]));
    }
}
