//! A printable overview of a feature dict (raw or processed): residues, MSA depth, templates,
//! and each feature's shape and dtype. What the CLI and the demo show after loading features.
use crate::data::array::{ArrayData, FeatureDict};
use std::fmt;

/// Counts and per-feature shapes of a [`FeatureDict`].
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSummary {
    /// Residues (`aatype`'s residue axis; `seq_length` when present).
    pub num_res: Option<usize>,
    /// MSA rows: all rows of a raw `msa`, or the real (unpadded) cluster rows of a processed
    /// batch's first copy.
    pub msa_depth: Option<usize>,
    /// Real extra-MSA rows of a processed batch's first copy.
    pub extra_msa_depth: Option<usize>,
    /// Templates (`template_aatype`'s template axis; real ones from `template_mask` if present).
    pub num_templates: Option<usize>,
    /// Leading copies of a processed batch (`num_recycle + 1` per ensemble member).
    pub num_batches: Option<usize>,
    /// `(name, shape, dtype)` of every feature, sorted by name.
    pub features: Vec<(String, Vec<usize>, &'static str)>,
}

impl FeatureSummary {
    pub fn of(features: &FeatureDict) -> Self {
        let processed = features.contains_key("msa_feat");
        let first_copy_sum = |key: &str| -> Option<usize> {
            let array = features.get(key)?;
            let per_copy = array.shape.get(1).copied()?;
            let values = array.to_f32_vec().ok()?;
            Some(values.iter().take(per_copy).filter(|&&v| v > 0.0).count())
        };
        let num_res = scalar_value(features, "seq_length").or_else(|| {
            let aatype = features.get("aatype")?;
            let axis = if processed { 1 } else { 0 };
            aatype.shape.get(axis).copied()
        });
        let (msa_depth, extra_msa_depth, num_batches) = if processed {
            (
                first_copy_sum("msa_row_mask"),
                first_copy_sum("extra_msa_row_mask"),
                features
                    .get("msa_feat")
                    .and_then(|a| a.shape.first().copied()),
            )
        } else {
            (
                features.get("msa").and_then(|a| a.shape.first().copied()),
                None,
                None,
            )
        };
        let num_templates = if processed {
            first_copy_sum("template_mask")
        } else {
            features
                .get("template_aatype")
                .and_then(|a| a.shape.first().copied())
        };
        Self {
            num_res,
            msa_depth,
            extra_msa_depth,
            num_templates,
            num_batches,
            features: features
                .iter()
                .map(|(k, v)| (k.clone(), v.shape.clone(), v.dtype_name()))
                .collect(),
        }
    }
}

/// First element of an integer feature (`seq_length` is `[N_res]` raw, `[B]` processed).
fn scalar_value(features: &FeatureDict, key: &str) -> Option<usize> {
    match &features.get(key)?.data {
        ArrayData::I32(v) => v.first().and_then(|&x| usize::try_from(x).ok()),
        ArrayData::I64(v) => v.first().and_then(|&x| usize::try_from(x).ok()),
        _ => None,
    }
}

impl fmt::Display for FeatureSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        writeln!(
            f,
            "{} features; residues {}, MSA depth {}, extra MSA {}, templates {}, batch copies {}",
            self.features.len(),
            show(self.num_res),
            show(self.msa_depth),
            show(self.extra_msa_depth),
            show(self.num_templates),
            show(self.num_batches),
        )?;
        let width = self
            .features
            .iter()
            .map(|(k, _, _)| k.len())
            .max()
            .unwrap_or(0);
        for (key, shape, dtype) in &self.features {
            writeln!(f, "  {key:<width$}  {dtype:<8} {shape:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::features::sequence_features::make_raw_features;
    use crate::data::features::{process_features, DataConfig};
    use crate::data::msa::parse_a3m;

    #[test]
    fn summarises_raw_and_processed_features() {
        let msa = parse_a3m(
            ">q
MKV
>1
MRV
>2
AKV
",
            "toy.a3m",
        )
        .unwrap();
        let raw = make_raw_features("MKV", "toy", &[&msa]).unwrap();
        let summary = FeatureSummary::of(&raw);
        assert_eq!(
            (summary.num_res, summary.msa_depth, summary.num_templates),
            (Some(3), Some(3), None)
        );
        let text = summary.to_string();
        assert!(
            text.starts_with("9 features; residues 3, MSA depth 3"),
            "{text}"
        );
        assert!(
            text.contains("msa                       int32    [3, 3]"),
            "{text}"
        );

        let config = DataConfig {
            max_msa_clusters: 2,
            max_extra_msa: 8,
            ..DataConfig::default()
        };
        let batch = process_features(&raw, &config, 0).unwrap();
        let summary = FeatureSummary::of(&batch);
        assert_eq!(summary.num_res, Some(3));
        assert_eq!(summary.msa_depth, Some(2));
        assert_eq!(summary.extra_msa_depth, Some(1));
        assert_eq!(summary.num_batches, Some(4));
    }
}
