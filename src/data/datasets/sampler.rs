//! Cluster-balanced sampling of training chains with AlphaFold's length-based acceptance
//! (Jumper et al. (2021) Suppl. 1.2.5): a cluster is drawn uniformly, then a member of it; the
//! chain is kept with probability `max(min(N_res, 512), 256) / 512`, so that short chains are
//! not over-represented. Examples that fail to load are recorded as [`Warning`]s and skipped.
use super::example::{Dataset, TrainingExample, Warning};
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// AlphaFold's acceptance probability of a chain of `num_res` residues.
pub fn length_acceptance_probability(num_res: usize) -> f64 {
    num_res.clamp(256, 512) as f64 / 512.0
}

/// A seeded stream of training examples from a dataset.
pub struct TrainingSampler {
    dataset: Arc<dyn Dataset>,
    rng: StdRng,
    /// Draws allowed per returned example before giving up (every member may be malformed).
    max_draws: usize,
}

impl TrainingSampler {
    pub fn new(dataset: Arc<dyn Dataset>, seed: u64) -> Result<Self> {
        let members: usize = dataset.clusters().iter().map(Vec::len).sum();
        if members == 0 {
            bail!("the dataset has no examples");
        }
        Ok(Self {
            dataset,
            rng: StdRng::seed_from_u64(seed),
            max_draws: 100 * members.max(10),
        })
    }

    /// The next accepted example, with the warnings of the examples skipped on the way; an
    /// error when `max_draws` draws in a row gave nothing usable.
    pub fn next_example(&mut self, warnings: &mut Vec<Warning>) -> Result<TrainingExample> {
        for _ in 0..self.max_draws {
            let clusters = self.dataset.clusters();
            let cluster = &clusters[self.rng.gen_range(0..clusters.len())];
            if cluster.is_empty() {
                continue;
            }
            let id = &cluster[self.rng.gen_range(0..cluster.len())];
            // Drawn before loading, so that the stream of draws does not depend on which
            // examples load.
            let acceptance_draw: f64 = self.rng.gen();
            match self.dataset.load(id) {
                Ok(example) => {
                    if acceptance_draw < length_acceptance_probability(example.num_res()) {
                        return Ok(example);
                    }
                }
                Err(error) => warnings.push(Warning {
                    id: id.clone(),
                    reason: format!("{error:#}"),
                }),
            }
        }
        bail!(
            "no usable example in {} draws ({} skipped)",
            self.max_draws,
            warnings.len()
        )
    }

    /// A seed for processing the next example, from the sampler's own stream.
    pub fn next_seed(&mut self) -> u64 {
        self.rng.gen()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::array::FeatureDict;
    use crate::data::protein::Protein;
    use std::collections::HashMap;

    #[test]
    fn acceptance_follows_alphafold() {
        assert_eq!(length_acceptance_probability(10), 0.5);
        assert_eq!(length_acceptance_probability(384), 0.75);
        assert_eq!(length_acceptance_probability(5000), 1.0);
    }

    /// A dataset of fake chains whose length is given per id; ids starting with `bad` fail.
    pub(crate) struct FakeDataset {
        pub clusters: Vec<Vec<String>>,
        pub lengths: HashMap<String, usize>,
    }

    impl Dataset for FakeDataset {
        fn clusters(&self) -> &[Vec<String>] {
            &self.clusters
        }
        fn load(&self, id: &str) -> Result<TrainingExample> {
            if id.starts_with("bad") {
                bail!("broken on purpose");
            }
            let n = self.lengths[id];
            Ok(TrainingExample {
                id: id.to_owned(),
                raw: FeatureDict::new(),
                native: Protein {
                    aatype: vec![0; n],
                    ..Protein::default()
                },
                resolution: 0.0,
                is_distillation: false,
            })
        }
    }

    fn fake() -> Arc<dyn Dataset> {
        let clusters = vec![
            vec!["big".to_string()],
            vec!["s1".into(), "s2".into(), "s3".into(), "s4".into()],
            vec!["bad1".into()],
        ];
        let lengths = [
            ("big", 600),
            ("s1", 600),
            ("s2", 600),
            ("s3", 600),
            ("s4", 600),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Arc::new(FakeDataset { clusters, lengths })
    }

    #[test]
    fn clusters_are_drawn_uniformly_and_failures_are_recorded() {
        let mut sampler = TrainingSampler::new(fake(), 3).unwrap();
        let mut warnings = Vec::new();
        let mut big = 0;
        let draws = 2000;
        for _ in 0..draws {
            let example = sampler.next_example(&mut warnings).unwrap();
            big += (example.id == "big") as usize;
        }
        // Two good clusters: "big" is half the draws although it is 1 of 5 good chains.
        let share = big as f64 / draws as f64;
        assert!((share - 0.5).abs() < 0.05, "{share}");
        assert!(!warnings.is_empty());
        assert!(warnings
            .iter()
            .all(|w| w.id == "bad1" && w.reason.contains("on purpose")));
    }

    #[test]
    fn short_chains_are_accepted_at_half_rate_and_seeds_repeat() {
        let clusters = vec![vec!["short".to_string()], vec!["long".to_string()]];
        let lengths = [("short", 50), ("long", 512)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let dataset: Arc<dyn Dataset> = Arc::new(FakeDataset { clusters, lengths });
        let ids = |seed| {
            let mut sampler = TrainingSampler::new(dataset.clone(), seed).unwrap();
            (0..3000)
                .map(|_| sampler.next_example(&mut Vec::new()).unwrap().id)
                .collect::<Vec<_>>()
        };
        let first = ids(11);
        assert_eq!(first, ids(11));
        assert_ne!(first, ids(12));
        // Accepted shares 0.5 : 1, i.e. one third short.
        let short = first.iter().filter(|id| *id == "short").count() as f64 / 3000.0;
        assert!((short - 1.0 / 3.0).abs() < 0.04, "{short}");
    }

    #[test]
    fn an_all_broken_dataset_is_an_error_not_a_hang() {
        let dataset: Arc<dyn Dataset> = Arc::new(FakeDataset {
            clusters: vec![vec!["bad".to_string()]],
            lengths: HashMap::new(),
        });
        let mut sampler = TrainingSampler::new(dataset, 0).unwrap();
        let mut warnings = Vec::new();
        assert!(sampler.next_example(&mut warnings).is_err());
        assert_eq!(warnings.len(), 1000);
    }
}
