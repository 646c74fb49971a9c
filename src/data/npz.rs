//! NumPy `.npz` archives (what `np.savez` / `np.savez_compressed` write) ↔ [`FeatureDict`]:
//! a zip file with one `<key>.npy` member per array.
//!
//! The `.npy` format follows NumPy's `numpy/lib/format.py`: the magic `\x93NUMPY`, a major and
//! minor version (1.0 has a 2-byte header length, 2.0 and 3.0 a 4-byte one; 3.0 allows UTF-8),
//! then a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (4, 10), }`
//! padded with spaces to a multiple of 64 bytes and ended by `\n`, then the raw elements.
//! Object arrays (`|O`) hold a pickle of the array instead, read with [`super::pickle`].
use super::array::{FeatureDict, NpArray};
use super::npy_dtype::{encode, fortran_to_c_order, Dtype, ElementKind};
use super::pickle::parse_array_pickle;
use anyhow::{bail, Context, Result};
use std::io::{Read, Seek, Write};
use std::path::Path;

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads every array of an `.npz` file; keys are the member names without `.npy`.
pub fn read_npz(path: &Path) -> Result<FeatureDict> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?;
    read_npz_from(file, &name)
}

/// Reads an `.npz` archive from any seekable reader; `name` labels errors.
pub fn read_npz_from<R: Read + Seek>(reader: R, name: &str) -> Result<FeatureDict> {
    let mut archive = zip::ZipArchive::new(reader)
        .with_context(|| format!("{name}: not a zip (.npz) archive"))?;
    let mut features = FeatureDict::new();
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .with_context(|| format!("{name}: unreadable member {index}"))?;
        let member_name = member.name().to_owned();
        let key = member_name
            .strip_suffix(".npy")
            .unwrap_or(&member_name)
            .to_owned();
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .with_context(|| format!("{name}: cannot decompress {member_name}"))?;
        let array = parse_npy(&bytes, &format!("{name}/{member_name}"))?;
        features.insert(key, array);
    }
    Ok(features)
}

/// Writes `features` as a deflate-compressed `.npz` (what `np.savez_compressed` makes).
pub fn write_npz(path: &Path, features: &FeatureDict) -> Result<()> {
    let name = path.display().to_string();
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {name}"))?;
    write_npz_to(file, features).with_context(|| format!("writing {name}"))
}

/// Writes an `.npz` archive to any seekable writer.
pub fn write_npz_to<W: Write + Seek>(writer: W, features: &FeatureDict) -> Result<()> {
    let mut zip = zip::ZipWriter::new(writer);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (key, array) in features {
        zip.start_file(format!("{key}.npy"), options)?;
        zip.write_all(&npy_bytes(array))?;
    }
    zip.finish()?;
    Ok(())
}

/// One array in `.npy` form (version 1.0, or 2.0 when the header needs more than 64 KiB).
pub fn npy_bytes(array: &NpArray) -> Vec<u8> {
    let dtype = Dtype::of(&array.data);
    let shape = match array.shape.as_slice() {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        dtype.descr()
    );
    let version_1_prefix = NPY_MAGIC.len() + 2 + 2;
    let (version, prefix) = if header.len() + version_1_prefix + 64 < 65536 {
        (1u8, version_1_prefix)
    } else {
        (2u8, version_1_prefix + 2)
    };
    let padding = (64 - (prefix + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(padding));
    header.push('\n');
    let mut out = Vec::with_capacity(prefix + header.len() + array.data.len() * 8);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&encode(&array.data));
    out
}

/// Parses one `.npy` file's bytes; `name` labels errors.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<NpArray> {
    if !bytes.starts_with(NPY_MAGIC) {
        bail!("{name}: not a .npy array (missing the \\x93NUMPY magic)");
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => bail!("{name}: truncated .npy header"),
    };
    let (length_size, header_start) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        _ => bail!("{name}: .npy format version {major}.{minor} is not supported"),
    };
    let length_bytes = bytes
        .get(8..8 + length_size)
        .context(format!("{name}: truncated .npy header"))?;
    let header_len = length_bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let header_end = header_start + header_len;
    let header = bytes
        .get(header_start..header_end)
        .with_context(|| format!("{name}: truncated .npy header ({header_len} bytes announced)"))?;
    let header =
        std::str::from_utf8(header).with_context(|| format!("{name}: .npy header is not UTF-8"))?;
    let header =
        NpyHeader::parse(header).with_context(|| format!("{name}: bad .npy header {header:?}"))?;
    let body = &bytes[header_end..];
    let array = if header.dtype.kind == ElementKind::Object {
        let array = parse_array_pickle(body, name)?;
        if array.shape != header.shape {
            bail!(
                "{name}: pickled array has shape {:?}, header says {:?}",
                array.shape,
                header.shape
            );
        }
        array
    } else {
        let count = header
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .with_context(|| format!("{name}: shape {:?} overflows", header.shape))?;
        let data = header
            .dtype
            .decode(body, count)
            .with_context(|| format!("{name}: array data"))?;
        NpArray::new(header.shape, data).with_context(|| name.to_owned())?
    };
    Ok(if header.fortran_order {
        fortran_to_c_order(array)
    } else {
        array
    })
}

/// The three fields of an `.npy` header.
struct NpyHeader {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl NpyHeader {
    /// Parses the dict literal NumPy writes; keys may come in any order.
    fn parse(text: &str) -> Result<Self> {
        let body = text
            .trim()
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .context("not a dict literal")?;
        let descr = quoted_value(body, "descr")?;
        let dtype = Dtype::parse(&descr)?;
        let fortran_order = match raw_value(body, "fortran_order")?.as_str() {
            "True" => true,
            "False" => false,
            other => bail!("fortran_order is {other:?}"),
        };
        let shape_text = raw_value(body, "shape")?;
        let inner = shape_text
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .context("shape is not a tuple")?;
        let shape = inner
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                d.parse::<usize>()
                    .with_context(|| format!("bad dimension {d:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            dtype,
            fortran_order,
            shape,
        })
    }
}

/// Text after `'key':`, with surrounding blanks removed, up to the next top-level comma.
fn raw_value(body: &str, key: &str) -> Result<String> {
    let pattern = format!("'{key}':");
    let start = body
        .find(&pattern)
        .with_context(|| format!("no {key:?} entry"))?
        + pattern.len();
    let rest = body[start..].trim_start();
    let mut depth = 0i32;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    Ok(rest[..end].trim().to_owned())
}

/// The quoted string value of `key`.
fn quoted_value(body: &str, key: &str) -> Result<String> {
    let value = raw_value(body, key)?;
    value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .map(str::to_owned)
        .with_context(|| {
            format!("{key} is {value}, not a quoted string (structured dtypes are not supported)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::array::ArrayData;
    use crate::testing::shared_data;

    /// Shapes, dtypes and values printed by `.venv/bin/python -c "import numpy as np;
    /// d = np.load('.../colabfold/batch_6A5J.feat.npz'); print(d['aatype'][0], d['msa_row_mask'][0, :3],
    /// d['residx_atom14_to_atom37'][0, 0, :6], d['msa_feat'].shape, d['asym_id'].dtype)"`.
    #[test]
    fn reads_colabfold_processed_batch() {
        let Some(path) = shared_data("colabfold/batch_6A5J.feat.npz") else {
            return;
        };
        let batch = read_npz(&path).unwrap();
        assert_eq!(batch.len(), 22);
        let aatype = &batch["aatype"];
        assert_eq!(aatype.shape, vec![4, 13]);
        let ArrayData::I32(values) = &aatype.data else {
            panic!("aatype is not int32")
        };
        // IKKILSKIKKLLK in AlphaFold's residue order (I = 9, K = 11, L = 10, S = 15).
        assert_eq!(
            &values[..13],
            &[9, 11, 11, 9, 10, 15, 11, 9, 11, 11, 10, 10, 11]
        );
        let msa_feat = &batch["msa_feat"];
        assert_eq!(msa_feat.shape, vec![4, 512, 13, 49]);
        assert_eq!(msa_feat.dtype_name(), "float32");
        assert_eq!(batch["msa_row_mask"].data, {
            let mut mask = vec![0f32; 4 * 512];
            for recycle in 0..4 {
                mask[recycle * 512] = 1.0;
                mask[recycle * 512 + 1] = 1.0;
            }
            ArrayData::F32(mask)
        });
        assert_eq!(batch["asym_id"].dtype_name(), "int64");
        let ArrayData::I32(atom14) = &batch["residx_atom14_to_atom37"].data else {
            panic!()
        };
        assert_eq!(&atom14[..6], &[0, 1, 2, 4, 3, 6]);
    }

    /// Keys with `/` (`distogram/logits`) and 0-d arrays, as printed by `.venv/bin/python -c
    /// "import numpy as np; d = np.load('.../batch_6A5J.pred.npz'); print({k: (d[k].shape,
    /// d[k].dtype) for k in d.files})"`.
    #[test]
    fn reads_colabfold_predictions() {
        let Some(path) = shared_data("colabfold/batch_6A5J.pred.npz") else {
            return;
        };
        let prediction = read_npz(&path).unwrap();
        assert_eq!(prediction.len(), 17);
        assert_eq!(prediction["distogram/logits"].shape, vec![13, 13, 64]);
        assert_eq!(prediction["masked_msa/logits"].shape, vec![512, 13, 23]);
        assert_eq!(prediction["plddt"].dtype_name(), "float64");
        assert_eq!(prediction["ptm"].shape, Vec::<usize>::new());
        assert_eq!(
            prediction["structure_module/final_atom_positions"].shape,
            vec![13, 37, 3]
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let mut features = FeatureDict::new();
        let arrays = [
            (
                "f32",
                vec![2, 3],
                ArrayData::F32(vec![0.5, -1.0, 2.25, 3.0, 4.0, f32::MAX]),
            ),
            ("f64", vec![1], ArrayData::F64(vec![std::f64::consts::PI])),
            (
                "i32",
                vec![2, 1, 2],
                ArrayData::I32(vec![-7, 0, 7, i32::MIN]),
            ),
            ("i64", vec![], ArrayData::I64(vec![1 << 40])),
            ("u8", vec![3], ArrayData::U8(vec![0, 128, 255])),
            ("bool", vec![2], ArrayData::Bool(vec![true, false])),
            (
                "names",
                vec![2],
                ArrayData::Bytes(vec![b"1abc_A".to_vec(), b"x".to_vec()]),
            ),
            ("empty", vec![0, 5], ArrayData::F32(Vec::new())),
        ];
        for (key, shape, data) in arrays {
            features.insert(key.to_owned(), NpArray::new(shape, data).unwrap());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("round_trip.npz");
        write_npz(&path, &features).unwrap();
        assert_eq!(read_npz(&path).unwrap(), features);
    }

    #[test]
    fn reads_version_3_fortran_headers() {
        let mut bytes = NPY_MAGIC.to_vec();
        let header = "{'fortran_order': True, 'shape': (2, 3), 'descr': '<i8', }";
        bytes.extend_from_slice(&[3, 0]);
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in [1i64, 4, 2, 5, 3, 6] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let array = parse_npy(&bytes, "v3.npy").unwrap();
        assert_eq!(array.shape, vec![2, 3]);
        assert_eq!(array.data, ArrayData::I64(vec![1, 2, 3, 4, 5, 6]));
    }

    /// Every prefix and many single-byte corruptions of a valid `.npy` give a value or an error,
    /// never a panic.
    #[test]
    fn corrupted_npy_never_panics() {
        use rand::{Rng, SeedableRng};
        let array = NpArray::new(vec![2, 3], ArrayData::I64(vec![1, 2, 3, 4, 5, 6])).unwrap();
        let valid = npy_bytes(&array);
        assert_eq!(parse_npy(&valid, "valid.npy").unwrap(), array);
        for end in 0..valid.len() {
            assert!(parse_npy(&valid[..end], "prefix.npy").is_err());
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for _ in 0..2000 {
            let mut bytes = valid.clone();
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = rng.gen();
            let _ = parse_npy(&bytes, "flipped.npy");
        }
    }

    #[test]
    fn broken_inputs_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.npz");
        std::fs::write(&garbage, b"this is not a zip").unwrap();
        let err = read_npz(&garbage).unwrap_err();
        assert!(
            format!("{err:#}").contains("garbage.npz: not a zip"),
            "{err:#}"
        );

        let empty = dir.path().join("empty.npz");
        std::fs::write(&empty, b"").unwrap();
        assert!(format!("{:#}", read_npz(&empty).unwrap_err()).contains("empty.npz"));

        let mut features = FeatureDict::new();
        features.insert(
            "x".into(),
            NpArray::new(vec![4], ArrayData::F32(vec![1.0; 4])).unwrap(),
        );
        let npy = npy_bytes(&features["x"]);
        let err = parse_npy(&npy[..npy.len() - 3], "cut.npy").unwrap_err();
        assert!(
            format!("{err:#}").contains("cut.npy: array data"),
            "{err:#}"
        );
        assert!(
            format!("{err:#}").contains("need 16 bytes, found 13"),
            "{err:#}"
        );
        let err = parse_npy(&npy[..20], "short.npy").unwrap_err();
        assert!(
            format!("{err:#}").contains("short.npy: truncated .npy header"),
            "{err:#}"
        );
        let err = parse_npy(b"PK\x03\x04", "wrong.npy").unwrap_err();
        assert!(
            format!("{err:#}").contains("wrong.npy: not a .npy"),
            "{err:#}"
        );

        let path = dir.path().join("ok.npz");
        write_npz(&path, &features).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let truncated = dir.path().join("truncated.npz");
        std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
        assert!(format!("{:#}", read_npz(&truncated).unwrap_err()).contains("truncated.npz"));
    }
}
