//! Training checkpoints: everything a [`Trainer`] needs to continue bit for bit, in one
//! safetensors file (format: <https://github.com/huggingface/safetensors>, an 8-byte
//! little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
//! then the bytes), written to a temporary file and renamed into place so that a crash never
//! leaves a half-written checkpoint.
//!
//! Tensors: every model variable under its VarStore name (so the file is also a model
//! checkpoint for `predict --params`), `optimizer/exp_avg` and `optimizer/exp_avg_sq` (Adam's
//! flat moments), `average/weights` (the flat weight average). The header's `__metadata__`
//! holds one entry, `helixfold_training`: a JSON [`CheckpointMetadata`] (step, data position,
//! update counts, both configurations and the flat layout; the random streams are functions of
//! the seed and the step, so these fix them).
use super::flat_parameters::Slot;
use super::trainer::{TrainConfig, Trainer};
use crate::model::config::ModelConfig;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::path::Path;
use tch::{Device, Kind, Tensor};

const FORMAT: &str = "helixfold-training-checkpoint/1";
const METADATA_KEY: &str = "helixfold_training";
const EXP_AVG: &str = "optimizer/exp_avg";
const EXP_AVG_SQ: &str = "optimizer/exp_avg_sq";
const AVERAGE: &str = "average/weights";
/// A header larger than this is not a checkpoint (guards the allocation).
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// The JSON metadata of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    pub format: String,
    /// Optimiser steps taken.
    pub step: u64,
    /// Examples consumed.
    pub data_position: u64,
    pub adam_steps: u64,
    pub average_updates: u64,
    pub train_config: TrainConfig,
    pub model_config: ModelConfig,
    /// `(name, shape)` of each slot of the flat buffers, in order.
    pub layout: Vec<(String, Vec<i64>)>,
}

fn dtype_name(kind: Kind) -> Result<&'static str> {
    Ok(match kind {
        Kind::Float => "F32",
        Kind::Double => "F64",
        Kind::Int64 => "I64",
        Kind::Int => "I32",
        Kind::BFloat16 => "BF16",
        other => bail!("cannot store a {other:?} tensor in a checkpoint"),
    })
}

fn kind_of(dtype: &str) -> Result<Kind> {
    Ok(match dtype {
        "F32" => Kind::Float,
        "F64" => Kind::Double,
        "I64" => Kind::Int64,
        "I32" => Kind::Int,
        "BF16" => Kind::BFloat16,
        other => bail!("unsupported dtype {other:?}"),
    })
}

/// Writes `tensors` and `metadata` as a safetensors file at `path`, atomically.
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)], metadata: &Map<String, Value>) -> Result<()> {
    let mut header = Map::new();
    header.insert("__metadata__".to_string(), Value::Object(metadata.clone()));
    let mut offset = 0usize;
    let mut contiguous = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let tensor = tensor.to_device(Device::Cpu).contiguous();
        let bytes = tensor.numel() * tensor.kind().elt_size_in_bytes();
        header.insert(
            name.clone(),
            json!({"dtype": dtype_name(tensor.kind())?, "shape": tensor.size(), "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
        contiguous.push((tensor, bytes));
    }
    let mut header = serde_json::to_vec(&Value::Object(header))?;
    header.resize(header.len().next_multiple_of(8), b' ');

    let file_name = path.file_name().with_context(|| format!("{}: not a file path", path.display()))?;
    let temporary = path.with_file_name(format!(".{}.tmp{}", file_name.to_string_lossy(), std::process::id()));
    let write = || -> Result<()> {
        let file = std::fs::File::create(&temporary)?;
        let mut writer = std::io::BufWriter::new(file);
        writer.write_all(&(header.len() as u64).to_le_bytes())?;
        writer.write_all(&header)?;
        let mut buffer = Vec::new();
        for (tensor, bytes) in &contiguous {
            buffer.resize(*bytes, 0);
            tensor.f_copy_data_u8(&mut buffer, tensor.numel())?;
            writer.write_all(&buffer)?;
        }
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    };
    if let Err(error) = write() {
        let _ = std::fs::remove_file(&temporary);
        return Err(error.context(format!("writing {}", temporary.display())));
    }
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))
}

/// Reads a safetensors file: its tensors (on the CPU) and its `__metadata__`.
pub fn read_safetensors(path: &Path) -> Result<(Vec<(String, Tensor)>, Map<String, Value>)> {
    let context = || format!("reading checkpoint {}", path.display());
    let mut file = std::fs::File::open(path).with_context(context)?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).with_context(context)?;
    let header_length = u64::from_le_bytes(length);
    if header_length > MAX_HEADER_BYTES {
        bail!("{}: header length {header_length} at byte 0 is not plausible: not a safetensors file", path.display());
    }
    let mut header = vec![0u8; header_length as usize];
    file.read_exact(&mut header).with_context(context)?;
    let header: Map<String, Value> = serde_json::from_slice(&header)
        .with_context(|| format!("{}: the header (bytes 8..{}) is not a JSON object", path.display(), 8 + header_length))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).with_context(context)?;
    let mut metadata = Map::new();
    let mut tensors = Vec::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            metadata = entry.as_object().cloned().unwrap_or_default();
            continue;
        }
        let bad = |what: &str| anyhow::anyhow!("{}: tensor '{name}': {what}", path.display());
        let dtype = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| bad("no dtype"))?;
        let kind = kind_of(dtype).map_err(|e| bad(&e.to_string()))?;
        let shape: Vec<i64> = serde_json::from_value(entry.get("shape").cloned().unwrap_or(Value::Null))
            .map_err(|_| bad("no shape"))?;
        let offsets: [usize; 2] = serde_json::from_value(entry.get("data_offsets").cloned().unwrap_or(Value::Null))
            .map_err(|_| bad("no data_offsets"))?;
        let numel: i64 = shape.iter().product();
        let expected = usize::try_from(numel).map_err(|_| bad("negative shape"))? * kind.elt_size_in_bytes();
        let bytes = data.get(offsets[0]..offsets[1]).ok_or_else(|| bad("byte range past the end of the file"))?;
        if bytes.len() != expected {
            return Err(bad(&format!("{} bytes for shape {shape:?} {dtype}", bytes.len())));
        }
        tensors.push((name.clone(), Tensor::f_from_data_size(bytes, &shape, kind)?));
    }
    Ok((tensors, metadata))
}

/// The metadata of a training checkpoint (without loading its tensors' values into a model).
pub fn read_metadata(path: &Path) -> Result<CheckpointMetadata> {
    let (_, metadata) = read_safetensors(path)?;
    parse_metadata(path, &metadata)
}

fn parse_metadata(path: &Path, metadata: &Map<String, Value>) -> Result<CheckpointMetadata> {
    let text = metadata
        .get(METADATA_KEY)
        .and_then(Value::as_str)
        .with_context(|| format!("{}: not a training checkpoint (no '{METADATA_KEY}' metadata)", path.display()))?;
    let parsed: CheckpointMetadata =
        serde_json::from_str(text).with_context(|| format!("{}: malformed '{METADATA_KEY}' metadata", path.display()))?;
    if parsed.format != FORMAT {
        bail!("{}: checkpoint format {:?}, expected {FORMAT:?}", path.display(), parsed.format);
    }
    Ok(parsed)
}

fn layout(slots: &[Slot]) -> Vec<(String, Vec<i64>)> {
    slots.iter().map(|s| (s.name.clone(), s.shape.clone())).collect()
}

impl Trainer {
    /// Writes the whole training state to `path` (atomically).
    pub fn save_checkpoint(&mut self, path: &Path) -> Result<()> {
        let step = self.step_count();
        let data_position = self.data_position();
        let train_config = self.config().clone();
        let model_config = self.model_config().clone();
        let mut tensors: Vec<(String, Tensor)> = self.var_store().variables().into_iter().collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let state = self.state_mut();
        let metadata = CheckpointMetadata {
            format: FORMAT.to_string(),
            step,
            data_position,
            adam_steps: state.adam.steps,
            average_updates: state.ema.updates,
            train_config,
            model_config,
            layout: layout(state.params.slots()),
        };
        tensors.push((EXP_AVG.to_string(), state.adam.exp_avg.shallow_clone()));
        tensors.push((EXP_AVG_SQ.to_string(), state.adam.exp_avg_sq.shallow_clone()));
        tensors.push((AVERAGE.to_string(), state.ema.values.shallow_clone()));
        let mut header = Map::new();
        header.insert(METADATA_KEY.to_string(), Value::String(serde_json::to_string(&metadata)?));
        write_safetensors(path, &tensors, &header)
    }

    /// A trainer that continues the run saved at `path` on `device`: the saved configurations,
    /// weights, moments, average and position.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let (tensors, metadata) = read_safetensors(path)?;
        let metadata = parse_metadata(path, &metadata)?;
        let mut trainer = Trainer::new(&metadata.model_config, metadata.train_config.clone(), device)?;
        trainer.restore(path, &metadata, tensors)?;
        Ok(trainer)
    }

    fn restore(&mut self, path: &Path, metadata: &CheckpointMetadata, tensors: Vec<(String, Tensor)>) -> Result<()> {
        let mut by_name: std::collections::HashMap<String, Tensor> = tensors.into_iter().collect();
        let mut take = |name: &str| {
            by_name.remove(name).with_context(|| format!("{}: checkpoint lacks tensor '{name}'", path.display()))
        };
        let variables = self.var_store().variables();
        let mut restored = Vec::with_capacity(variables.len());
        for (name, variable) in &variables {
            let saved = take(name)?;
            if saved.size() != variable.size() {
                bail!("{}: tensor '{name}' has shape {:?}, the model {:?}", path.display(), saved.size(), variable.size());
            }
            restored.push((variable.shallow_clone(), saved));
        }
        let (exp_avg, exp_avg_sq, average) = (take(EXP_AVG)?, take(EXP_AVG_SQ)?, take(AVERAGE)?);
        let (step, data_position) = (metadata.step, metadata.data_position);
        let state = self.state_mut();
        if layout(state.params.slots()) != metadata.layout {
            bail!("{}: the checkpoint's parameter layout differs from the model's", path.display());
        }
        for (name, flat) in [(EXP_AVG, &exp_avg), (EXP_AVG_SQ, &exp_avg_sq), (AVERAGE, &average)] {
            if flat.size() != [state.params.numel()] {
                bail!("{}: '{name}' has shape {:?}, expected [{}]", path.display(), flat.size(), state.params.numel());
            }
        }
        tch::no_grad(|| {
            for (mut variable, saved) in restored {
                variable.copy_(&saved);
            }
            state.adam.exp_avg.copy_(&exp_avg);
            state.adam.exp_avg_sq.copy_(&exp_avg_sq);
            state.ema.values.copy_(&average);
        });
        state.adam.steps = metadata.adam_steps;
        state.ema.updates = metadata.average_updates;
        *state.step = step;
        *state.data_position = data_position;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let a = Tensor::from_slice(&[1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0]).reshape([2, 3]);
        let b = Tensor::from_slice(&[5i64, -9]);
        let mut metadata = Map::new();
        metadata.insert("k".into(), Value::String("v".into()));
        write_safetensors(&path, &[("a".into(), a.shallow_clone()), ("b/c".into(), b.shallow_clone())], &metadata).unwrap();
        // tch's own reader (the reference implementation's parser) accepts the file.
        let theirs = Tensor::read_safetensors(&path).unwrap();
        assert_eq!(theirs.len(), 2);
        let (ours, read_metadata) = read_safetensors(&path).unwrap();
        assert_eq!(read_metadata, metadata);
        let get = |name: &str| ours.iter().find(|(n, _)| n == name).unwrap().1.shallow_clone();
        assert!(get("a").equal(&a));
        assert!(get("b/c").equal(&b));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\xffjunk").unwrap();
        let err = read_safetensors(&path).unwrap_err().to_string();
        assert!(err.contains("not plausible"), "{err}");
    }
}
