//! N-dimensional arrays as NumPy stores them, the common currency of AlphaFold's feature files
//! (`features.pkl`, `.npz`) and of the feature pipeline before it becomes tensors.
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// Element storage of an [`NpArray`]; one variant per NumPy dtype AlphaFold's features use.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
    /// Fixed-width or object byte strings (`dtype=object` / `|S..`), e.g. `domain_name`.
    Bytes(Vec<Vec<u8>>),
}

impl ArrayData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ArrayData::F32(v) => v.len(),
            ArrayData::F64(v) => v.len(),
            ArrayData::I32(v) => v.len(),
            ArrayData::I64(v) => v.len(),
            ArrayData::U8(v) => v.len(),
            ArrayData::Bool(v) => v.len(),
            ArrayData::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// NumPy's name for the element type.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            ArrayData::F32(_) => "float32",
            ArrayData::F64(_) => "float64",
            ArrayData::I32(_) => "int32",
            ArrayData::I64(_) => "int64",
            ArrayData::U8(_) => "uint8",
            ArrayData::Bool(_) => "bool",
            ArrayData::Bytes(_) => "bytes",
        }
    }
}

/// A row-major array with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct NpArray {
    pub shape: Vec<usize>,
    pub data: ArrayData,
}

/// Features by AlphaFold's names (`aatype`, `msa`, `template_all_atom_positions`, ...).
pub type FeatureDict = BTreeMap<String, NpArray>;

impl NpArray {
    /// Builds an array, checking that the element count matches the shape.
    pub fn new(shape: Vec<usize>, data: ArrayData) -> Result<Self> {
        let Some(expected) = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
            bail!("array shape {shape:?} overflows");
        };
        if expected != data.len() {
            bail!(
                "array of shape {shape:?} needs {expected} elements, got {} ({})",
                data.len(),
                data.dtype_name()
            );
        }
        Ok(Self { shape, data })
    }

    /// A zero-dimensional array.
    pub fn scalar(data: ArrayData) -> Result<Self> {
        Self::new(Vec::new(), data)
    }

    pub fn dtype_name(&self) -> &'static str {
        self.data.dtype_name()
    }

    /// Elements as `f32`, whatever the numeric dtype (AlphaFold mixes int and float encodings
    /// of the same feature across versions, e.g. `deletion_matrix_int` / `deletion_matrix`).
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        Ok(match &self.data {
            ArrayData::F32(v) => v.clone(),
            ArrayData::F64(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayData::U8(v) => v.iter().map(|&x| x as f32).collect(),
            ArrayData::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
            ArrayData::Bytes(_) => bail!("an array of byte strings has no numeric values"),
        })
    }

    /// Elements as `i64`; floating-point elements must be whole numbers.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        fn whole(x: f64) -> Result<i64> {
            if x.fract() != 0.0 || !x.is_finite() || x.abs() > 9.0e15 {
                bail!("value {x} is not an integer");
            }
            Ok(x as i64)
        }
        Ok(match &self.data {
            ArrayData::F32(v) => v.iter().map(|&x| whole(x as f64)).collect::<Result<_>>()?,
            ArrayData::F64(v) => v.iter().map(|&x| whole(x)).collect::<Result<_>>()?,
            ArrayData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::I64(v) => v.clone(),
            ArrayData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            ArrayData::Bytes(_) => bail!("an array of byte strings has no numeric values"),
        })
    }

    /// Converts to a CPU tensor of the same dtype and shape (byte strings cannot be converted).
    pub fn to_tensor(&self) -> Result<Tensor> {
        let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        let flat = match &self.data {
            ArrayData::F32(v) => Tensor::from_slice(v),
            ArrayData::F64(v) => Tensor::from_slice(v),
            ArrayData::I32(v) => Tensor::from_slice(v),
            ArrayData::I64(v) => Tensor::from_slice(v),
            ArrayData::U8(v) => Tensor::from_slice(v),
            ArrayData::Bool(v) => Tensor::from_slice(v),
            ArrayData::Bytes(_) => bail!("an array of byte strings has no tensor form"),
        };
        Ok(flat.reshape(shape.as_slice()))
    }

    /// Copies a tensor (any device) into an array of the matching dtype; bf16/f16 become f32.
    pub fn from_tensor(tensor: &Tensor) -> Result<Self> {
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        let flat = tensor
            .to_device(tch::Device::Cpu)
            .contiguous()
            .flatten(0, -1);
        let data = match tensor.kind() {
            Kind::Float | Kind::BFloat16 | Kind::Half => {
                ArrayData::F32(Vec::<f32>::try_from(flat.to_kind(Kind::Float))?)
            }
            Kind::Double => ArrayData::F64(Vec::<f64>::try_from(flat)?),
            Kind::Int => ArrayData::I32(Vec::<i32>::try_from(flat)?),
            Kind::Int64 => ArrayData::I64(Vec::<i64>::try_from(flat)?),
            Kind::Uint8 => ArrayData::U8(Vec::<u8>::try_from(flat)?),
            Kind::Bool => ArrayData::Bool(Vec::<bool>::try_from(flat)?),
            other => bail!("tensors of kind {other:?} have no array form"),
        };
        Self::new(shape, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_round_trip_keeps_dtype_and_shape() {
        let array = NpArray::new(vec![2, 3], ArrayData::I32(vec![1, 2, 3, 4, 5, 6])).unwrap();
        let tensor = array.to_tensor().unwrap();
        assert_eq!(tensor.size(), vec![2, 3]);
        assert_eq!(tensor.kind(), Kind::Int);
        assert_eq!(NpArray::from_tensor(&tensor).unwrap(), array);
    }

    #[test]
    fn rejects_shape_mismatch() {
        let err = NpArray::new(vec![2, 2], ArrayData::F32(vec![0.0; 3])).unwrap_err();
        assert!(err.to_string().contains("needs 4 elements, got 3"), "{err}");
    }
}
