//! The small training setup the multi-process training tests share.
#![allow(dead_code)]
use helixfold::model::config::ModelConfig;
use helixfold::testing::shared_data;
use helixfold::train::batches::{load_structure_example, training_data_config, ExampleBatches};
use helixfold::train::{TrainConfig, Trainer};
use tch::{Device, Tensor};

/// The tiny preset with small MSAs, as tests/train_cli.rs trains it, cropped to `crop_size`
/// residues.
pub fn tiny_model(crop_size: Option<i64>) -> ModelConfig {
    let mut model = ModelConfig::tiny();
    model.data.crop_size = crop_size;
    model.data.max_msa_clusters = 8;
    model.data.max_extra_msa = 16;
    model
}

/// A trainer of `model` and openfold_mini's 1psm chain A (38 residues,
/// /work/shared/data/openfold_mini) as its examples.
pub fn tiny_training(model: &ModelConfig, seed: u64) -> Option<(Trainer, ExampleBatches)> {
    tiny_training_with(model, seed, |_| {})
}

/// [`tiny_training`] with the training settings changed by `configure`.
pub fn tiny_training_with(model: &ModelConfig, seed: u64, configure: impl FnOnce(&mut TrainConfig)) -> Option<(Trainer, ExampleBatches)> {
    let cif = shared_data("openfold_mini/mmcif/1psm.cif")?;
    let a3m = shared_data("openfold_mini/alignments/1psm_A/bfd_uniclust_hits.a3m")?;
    let mut config = TrainConfig::alphafold(model, seed);
    config.schedule.warmup_steps = 1;
    configure(&mut config);
    let example = load_structure_example(&cif, &[a3m]).unwrap();
    let data = training_data_config(model).unwrap();
    let trainer = Trainer::new(model, config, Device::Cpu).unwrap();
    Some((trainer, ExampleBatches { example, data, seed, device: Device::Cpu }))
}

/// Every trainable parameter, by name, as one vector.
pub fn flat_parameters(trainer: &Trainer) -> Tensor {
    let mut named: Vec<(String, Tensor)> = trainer.var_store().variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::cat(&named.iter().map(|(_, t)| t.detach().reshape([-1])).collect::<Vec<_>>(), 0)
}
