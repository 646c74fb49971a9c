//! Cluster lists and id mappings of HelixFold's training sets (PaddleHelix
//! `apps/protein_folding/helixfold` data: `protein_clust/*.list`, `protein_id.mapping`): a
//! cluster file has one cluster per line, its member ids separated by white space; a mapping
//! file has one `member_id feature_id` pair per line (the directory the member's files are in).
use crate::data::text_file::read_text_file;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// Clusters of example ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterList {
    pub clusters: Vec<Vec<String>>,
}

impl ClusterList {
    /// Parses a cluster list; blank lines are skipped, an empty list is an error.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let clusters: Vec<Vec<String>> = text
            .lines()
            .map(|line| {
                line.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|members| !members.is_empty())
            .collect();
        if clusters.is_empty() {
            bail!("{source}: no clusters");
        }
        Ok(Self { clusters })
    }

    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(&read_text_file(path)?, &path.display().to_string())
    }

    /// One cluster per id (a set without a cluster file).
    pub fn singletons(ids: impl IntoIterator<Item = String>) -> Self {
        Self {
            clusters: ids.into_iter().map(|id| vec![id]).collect(),
        }
    }
}

/// Parses a `member_id feature_id` mapping; errors name the line.
pub fn parse_id_mapping(text: &str, source: &str) -> Result<HashMap<String, String>> {
    let mut mapping = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [member, feature] => {
                mapping.insert((*member).to_owned(), (*feature).to_owned());
            }
            _ => bail!(
                "{source}:{}: expected `member_id feature_id`, got {line:?}",
                number + 1
            ),
        }
    }
    Ok(mapping)
}

pub fn read_id_mapping(path: &Path) -> Result<HashMap<String, String>> {
    let text = read_text_file(path)?;
    parse_id_mapping(&text, &path.display().to_string())
        .with_context(|| format!("reading id mapping {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::shared_data;

    #[test]
    fn reads_the_demo_cluster_list_and_mapping() {
        let (Some(list), Some(mapping)) = (
            shared_data("helixfold_train_demo/protein_clust/demo_clust.list"),
            shared_data("helixfold_train_demo/protein_id.mapping"),
        ) else {
            return;
        };
        let clusters = ClusterList::read(&list).unwrap();
        assert_eq!(
            clusters.clusters,
            vec![vec!["102l_A".to_string()], vec!["150l_D".to_string()]]
        );
        let mapping = read_id_mapping(&mapping).unwrap();
        assert_eq!(mapping["150l_D"], "150l_D");
    }

    #[test]
    fn parses_multi_member_clusters_and_rejects_bad_mappings() {
        let list = ClusterList::parse("a b c\n\nd\n", "t").unwrap();
        assert_eq!(list.clusters.len(), 2);
        assert_eq!(list.clusters[0], vec!["a", "b", "c"]);
        assert!(ClusterList::parse("\n \n", "t").is_err());
        let err = parse_id_mapping("a x\nb y z\n", "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("m:2"), "{err}");
    }
}
