//! Background loading and processing of training examples: one worker thread draws examples
//! from a [`TrainingSampler`], runs the processing (the feature pipeline with labels) and puts
//! the batches in a bounded queue (`std::sync::mpsc::sync_channel`), so that the training step
//! finds the next batch ready. A single producer feeding a FIFO keeps the order, and every seed
//! comes from the sampler's stream, so a seed fixes the sequence of batches whatever the timing.
use super::example::{TrainingExample, Warning};
use super::sampler::TrainingSampler;
use crate::data::array::FeatureDict;
use anyhow::{anyhow, Result};
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::thread::JoinHandle;

/// A processed example.
#[derive(Debug, Clone)]
pub struct ProcessedExample {
    pub id: String,
    /// The seed the processing ran with.
    pub seed: u64,
    pub batch: FeatureDict,
}

/// What the queue delivers, in the order the worker produced it.
#[derive(Debug, Clone)]
pub enum Prefetched {
    Example(ProcessedExample),
    /// An example that failed to load or process, skipped.
    Skipped(Warning),
}

/// The worker and the receiving end of its queue; dropping it stops the worker.
pub struct Prefetcher {
    receiver: Option<Receiver<Result<Prefetched>>>,
    worker: Option<JoinHandle<()>>,
}

impl Prefetcher {
    /// Starts the worker with a queue of `capacity` items (at least 1). `process` turns an
    /// example and a seed into a batch (e.g. `|example, seed| example.process(&config, seed)`).
    pub fn spawn<F>(mut sampler: TrainingSampler, capacity: usize, process: F) -> Self
    where
        F: Fn(&TrainingExample, u64) -> Result<FeatureDict> + Send + 'static,
    {
        let (sender, receiver) = sync_channel(capacity.max(1));
        let worker = std::thread::spawn(move || loop {
            let mut warnings = Vec::new();
            let drawn = sampler.next_example(&mut warnings);
            for warning in warnings {
                if sender.send(Ok(Prefetched::Skipped(warning))).is_err() {
                    return;
                }
            }
            let example = match drawn {
                Ok(example) => example,
                Err(error) => {
                    // The sampler gave up: report it and stop.
                    let _ = sender.send(Err(error));
                    return;
                }
            };
            let seed = sampler.next_seed();
            let item = match process(&example, seed) {
                Ok(batch) => Prefetched::Example(ProcessedExample {
                    id: example.id,
                    seed,
                    batch,
                }),
                Err(error) => Prefetched::Skipped(Warning {
                    id: example.id,
                    reason: format!("processing: {error:#}"),
                }),
            };
            if sender.send(Ok(item)).is_err() {
                return;
            }
        });
        Self {
            receiver: Some(receiver),
            worker: Some(worker),
        }
    }

    /// The next item, waiting for it if the worker is behind; an error when the sampler gave
    /// up or the worker died.
    pub fn next_item(&mut self) -> Result<Prefetched> {
        let receiver = self
            .receiver
            .as_ref()
            .ok_or_else(|| anyhow!("the prefetcher is stopped"))?;
        receiver
            .recv()
            .map_err(|_| anyhow!("the prefetch worker stopped"))?
    }

    /// The next item if one is ready now.
    pub fn try_next_item(&mut self) -> Result<Option<Prefetched>> {
        let receiver = self
            .receiver
            .as_ref()
            .ok_or_else(|| anyhow!("the prefetcher is stopped"))?;
        match receiver.try_recv() {
            Ok(item) => item.map(Some),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(anyhow!("the prefetch worker stopped")),
        }
    }

    /// The next processed example, appending skipped ones to `warnings`.
    pub fn next_example(&mut self, warnings: &mut Vec<Warning>) -> Result<ProcessedExample> {
        loop {
            match self.next_item()? {
                Prefetched::Example(example) => return Ok(example),
                Prefetched::Skipped(warning) => warnings.push(warning),
            }
        }
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Closing the queue makes the worker's next send fail, which ends it.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::array::{ArrayData, NpArray};
    use crate::data::datasets::example::Dataset;
    use crate::data::datasets::openfold::OpenFoldDataset;
    use crate::data::datasets::sampler::tests::FakeDataset;
    use crate::data::features::DataConfig;
    use crate::testing::shared_data;
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    fn fake() -> Arc<dyn Dataset> {
        let ids = ["a", "b", "c", "d"];
        let mut clusters: Vec<Vec<String>> = ids.iter().map(|id| vec![id.to_string()]).collect();
        clusters.push(vec!["bad".into()]);
        let lengths: HashMap<String, usize> = ids.iter().map(|id| (id.to_string(), 300)).collect();
        Arc::new(FakeDataset { clusters, lengths })
    }

    /// The seed as a feature, with a delay that depends on it (the worker's timing varies).
    fn slow_process(_: &TrainingExample, seed: u64) -> Result<FeatureDict> {
        std::thread::sleep(Duration::from_millis(seed % 3));
        let mut batch = FeatureDict::new();
        batch.insert(
            "seed".into(),
            NpArray::scalar(ArrayData::I64(vec![seed as i64]))?,
        );
        Ok(batch)
    }

    fn run(seed: u64, consumer_delay: Duration) -> Vec<(String, u64)> {
        let sampler = TrainingSampler::new(fake(), seed).unwrap();
        let mut prefetcher = Prefetcher::spawn(sampler, 2, slow_process);
        let mut warnings = Vec::new();
        let mut out = Vec::new();
        for _ in 0..20 {
            std::thread::sleep(consumer_delay);
            let example = prefetcher.next_example(&mut warnings).unwrap();
            out.push((example.id, example.seed));
        }
        assert!(warnings.iter().all(|w| w.id == "bad"));
        out
    }

    #[test]
    fn order_depends_on_the_seed_only() {
        let fast = run(9, Duration::ZERO);
        assert_eq!(fast, run(9, Duration::from_millis(2)));
        assert_ne!(fast, run(10, Duration::ZERO));
    }

    #[test]
    fn batches_are_ready_before_they_are_asked_for() {
        let sampler = TrainingSampler::new(fake(), 1).unwrap();
        let mut prefetcher = Prefetcher::spawn(sampler, 3, slow_process);
        std::thread::sleep(Duration::from_millis(300));
        let mut ready = 0;
        while let Some(item) = prefetcher.try_next_item().unwrap() {
            ready += matches!(item, Prefetched::Example(_)) as usize;
        }
        assert!(ready >= 2, "{ready} examples ready");
    }

    #[test]
    fn processing_failures_are_skipped() {
        let sampler = TrainingSampler::new(fake(), 2).unwrap();
        let mut prefetcher = Prefetcher::spawn(sampler, 1, |example, seed| {
            if example.id == "a" {
                anyhow::bail!("cannot crop");
            }
            slow_process(example, seed)
        });
        let mut warnings = Vec::new();
        for _ in 0..10 {
            assert_ne!(prefetcher.next_example(&mut warnings).unwrap().id, "a");
        }
        assert!(warnings
            .iter()
            .any(|w| w.id == "a" && w.reason.contains("cannot crop")));
    }

    /// 1psm from openfold_mini through the whole training pipeline on the worker.
    #[test]
    fn prefetches_processed_openfold_examples() {
        let Some(root) = shared_data("openfold_mini") else {
            return;
        };
        let temp = tempfile::tempdir().unwrap();
        crate::data::datasets::openfold::tests::copy_1psm(&root, temp.path(), "1psm_A");
        let set = Arc::new(OpenFoldDataset::open(temp.path(), None).unwrap());
        let config = DataConfig {
            max_msa_clusters: 4,
            max_extra_msa: 4,
            crop_size: Some(16),
            num_recycle: 0,
            ..DataConfig::default()
        };
        let sampler = TrainingSampler::new(set, 0).unwrap();
        let mut prefetcher = Prefetcher::spawn(sampler, 1, move |example, seed| {
            example.process(&config, seed)
        });
        let example = prefetcher.next_example(&mut Vec::new()).unwrap();
        assert_eq!(example.id, "1psm_A");
        assert_eq!(
            example.batch["all_atom_positions"].shape,
            vec![1, 16, 37, 3]
        );
        assert_eq!(example.batch["msa_feat"].shape, vec![1, 4, 16, 49]);
    }
}
