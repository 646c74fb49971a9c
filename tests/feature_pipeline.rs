//! The feature pipeline against real inputs: AlphaFold's raw `features.pkl` of CASP14 target
//! T1026, and ColabFold's processed AlphaFold batches (`/work/shared/data/colabfold/*.feat.npz`,
//! made by ColabFold's AlphaFold pipeline for model_1_ptm with 3 recycles).
use helixfold::data::array::{ArrayData, FeatureDict, NpArray};
use helixfold::data::features::fixed_size::CropAndPad;
use helixfold::data::features::inputs::PipelineInputs;
use helixfold::data::features::msa_clusters::{assign_clusters, summarize_clusters};
use helixfold::data::features::msa_rows::MsaRows;
use helixfold::data::features::msa_sampling::MaskedMsa;
use helixfold::data::features::pipeline::{crop_and_pad, crop_plan, msa_features};
use helixfold::data::features::sequence_features::{make_raw_features, make_sequence_features};
use helixfold::data::features::{process_features, DataConfig, FeatureSummary};
use helixfold::data::msa::read_a3m;
use helixfold::data::npz::read_npz;
use helixfold::data::pickle::read_feature_pickle;
use helixfold::residue_constants::{hhblits_aa_index, RESTYPES_WITH_X_AND_GAP};
use helixfold::testing::shared_data;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Keys, shapes and dtypes of AlphaFold's processed batch for model_1 (templates on, 508 MSA
/// clusters, 5120 extra rows, 4 templates, 3 recycles), as `alphafold/model/config.py`'s eval
/// `feat` schema and `data_transforms.py` give them for a 172-residue target.
#[test]
fn t1026_batch_has_alphafold_keys_shapes_and_dtypes() {
    let Some(path) = shared_data("casp14_demo/T1026/features.pkl") else {
        return;
    };
    let raw = read_feature_pickle(&path).unwrap();
    let config = DataConfig::for_model("model_1").unwrap();
    let batch = process_features(&raw, &config, 0).unwrap();
    let found: Vec<(&str, Vec<usize>, &str)> = batch
        .iter()
        .map(|(k, v)| (k.as_str(), v.shape.clone(), v.dtype_name()))
        .collect();
    let expected: Vec<(&str, Vec<usize>, &str)> = vec![
        ("aatype", vec![4, 172], "int32"),
        ("atom14_atom_exists", vec![4, 172, 14], "float32"),
        ("atom37_atom_exists", vec![4, 172, 37], "float32"),
        ("bert_mask", vec![4, 508, 172], "float32"),
        ("extra_deletion_value", vec![4, 5120, 172], "float32"),
        ("extra_has_deletion", vec![4, 5120, 172], "float32"),
        ("extra_msa", vec![4, 5120, 172], "int32"),
        ("extra_msa_mask", vec![4, 5120, 172], "float32"),
        ("extra_msa_row_mask", vec![4, 5120], "float32"),
        ("is_distillation", vec![4], "float32"),
        ("msa_feat", vec![4, 508, 172, 49], "float32"),
        ("msa_mask", vec![4, 508, 172], "float32"),
        ("msa_row_mask", vec![4, 508], "float32"),
        ("random_crop_to_size_seed", vec![4, 2], "int32"),
        ("residue_index", vec![4, 172], "int32"),
        ("residx_atom14_to_atom37", vec![4, 172, 14], "int32"),
        ("residx_atom37_to_atom14", vec![4, 172, 37], "int32"),
        ("seq_length", vec![4], "int32"),
        ("seq_mask", vec![4, 172], "float32"),
        ("target_feat", vec![4, 172, 22], "float32"),
        ("template_aatype", vec![4, 4, 172], "int32"),
        ("template_all_atom_masks", vec![4, 4, 172, 37], "float32"),
        (
            "template_all_atom_positions",
            vec![4, 4, 172, 37, 3],
            "float32",
        ),
        ("template_mask", vec![4, 4], "float32"),
        ("template_pseudo_beta", vec![4, 4, 172, 3], "float32"),
        ("template_pseudo_beta_mask", vec![4, 4, 172], "float32"),
        ("template_sum_probs", vec![4, 4, 1], "float32"),
        ("true_msa", vec![4, 508, 172], "int32"),
    ];
    assert_eq!(found, expected);

    // The raw MSA has 22 rows: all become cluster centres, so no extra row is real.
    let summary = FeatureSummary::of(&batch);
    assert_eq!(summary.msa_depth, Some(22));
    assert_eq!(summary.extra_msa_depth, Some(0));
    assert_eq!(summary.num_templates, Some(4));
    // Every copy keeps the query as row 0 of true_msa: its residues are aatype.
    let aatype = i32s(&batch["aatype"]);
    let true_msa = i32s(&batch["true_msa"]);
    for copy in 0..4 {
        let query = &true_msa[copy * 508 * 172..][..172];
        assert_eq!(query, &aatype[copy * 172..][..172]);
    }
}

fn i32s(array: &NpArray) -> &[i32] {
    match &array.data {
        ArrayData::I32(v) => v,
        other => panic!("expected int32, found {}", other.dtype_name()),
    }
}

fn f32s(array: &NpArray) -> &[f32] {
    match &array.data {
        ArrayData::F32(v) => v,
        other => panic!("expected float32, found {}", other.dtype_name()),
    }
}

/// ColabFold's batch with the pipeline settings that made it.
struct Reference {
    batch: FeatureDict,
    config: DataConfig,
    num_res: usize,
    msa_rows: usize,
}

/// Loads a ColabFold batch; the single-sequence file was padded to 1 MSA and 1 extra row, the
/// `batch_*` files to 512 / 5120 rows and 13 residues.
fn reference(file: &str) -> Option<Reference> {
    let path = shared_data(&format!("colabfold/{file}"))?;
    let batch = read_npz(&path).unwrap();
    let num_res = i32s(&batch["seq_length"])[0] as usize;
    let msa_rows = f32s(&batch["msa_row_mask"])
        .iter()
        .take(batch["msa_row_mask"].shape[1])
        .filter(|&&m| m > 0.0)
        .count();
    let padded_res = batch["aatype"].shape[1];
    let config = DataConfig {
        max_msa_clusters: batch["msa_feat"].shape[1],
        max_extra_msa: batch["extra_msa"].shape[1],
        crop_size: Some(padded_res),
        masked_msa_replace_fraction: 0.0,
        ..DataConfig::for_model("model_1_ptm").unwrap()
    };
    let config = DataConfig {
        reduce_msa_clusters_by_max_templates: false,
        use_templates: false,
        ..config
    };
    Some(Reference {
        batch,
        config,
        num_res,
        msa_rows,
    })
}

/// The raw features behind a reference batch, rebuilt from its first copy: the query from
/// `aatype`, the MSA from the real rows of `true_msa` (ColabFold kept both identical rows of
/// 6A5J.a3m), no deletions (the batch's has-deletion channel is zero everywhere).
fn raw_features(reference: &Reference) -> FeatureDict {
    let batch = &reference.batch;
    let n = reference.num_res;
    let padded = batch["aatype"].shape[1];
    let sequence: String = i32s(&batch["aatype"])[..n]
        .iter()
        .map(|&a| RESTYPES_WITH_X_AND_GAP[a as usize])
        .collect();
    let mut raw = make_sequence_features(&sequence, "colabfold").unwrap();
    let true_msa = i32s(&batch["true_msa"]);
    let mut hhblits = Vec::new();
    for row in 0..reference.msa_rows {
        for &id in &true_msa[row * padded..row * padded + n] {
            hhblits.push(hhblits_aa_index(RESTYPES_WITH_X_AND_GAP[id as usize]).unwrap() as i32);
        }
    }
    let msa_feat = f32s(&batch["msa_feat"]);
    assert!(
        msa_feat.chunks(49).all(|c| c[23] == 0.0 && c[24] == 0.0),
        "reference has deletions"
    );
    let shape = vec![reference.msa_rows, n];
    raw.insert(
        "msa".into(),
        NpArray::new(shape.clone(), ArrayData::I32(hhblits)).unwrap(),
    );
    raw.insert(
        "deletion_matrix_int".into(),
        NpArray::new(shape, ArrayData::I32(vec![0; reference.msa_rows * n])).unwrap(),
    );
    raw
}

/// Features that involve no random choice must equal ColabFold's exactly; `msa_feat` must equal
/// it wherever ColabFold's BERT corruption left the position alone.
fn check_deterministic_features(file: &str) {
    let Some(reference) = reference(file) else {
        return;
    };
    let raw = raw_features(&reference);
    let ours = process_features(&raw, &reference.config, 0).unwrap();
    let theirs = &reference.batch;
    for key in [
        "aatype",
        "residue_index",
        "seq_length",
        "is_distillation",
        "seq_mask",
        "msa_mask",
        "msa_row_mask",
        "atom14_atom_exists",
        "residx_atom14_to_atom37",
        "residx_atom37_to_atom14",
        "atom37_atom_exists",
        "extra_msa",
        "extra_msa_mask",
        "extra_msa_row_mask",
        "true_msa",
        "extra_has_deletion",
        "extra_deletion_value",
        "target_feat",
    ] {
        assert_eq!(ours[key], theirs[key], "{file}: {key}");
    }
    for key in ["random_crop_to_size_seed", "bert_mask", "msa_feat"] {
        assert_eq!(ours[key].shape, theirs[key].shape, "{file}: {key}");
        assert_eq!(
            ours[key].dtype_name(),
            theirs[key].dtype_name(),
            "{file}: {key}"
        );
    }
    let bert_mask = f32s(&theirs["bert_mask"]);
    let (our_feat, their_feat) = (f32s(&ours["msa_feat"]), f32s(&theirs["msa_feat"]));
    let mut compared = 0;
    for (position, &masked) in bert_mask.iter().enumerate() {
        if masked == 0.0 {
            let channels = position * 49..(position + 1) * 49;
            assert_eq!(
                our_feat[channels.clone()],
                their_feat[channels],
                "{file}: msa_feat at {position}"
            );
            compared += 1;
        }
    }
    assert!(
        compared > bert_mask.len() / 2,
        "{file}: too few uncorrupted positions"
    );
}

#[test]
fn colabfold_single_sequence_batch_matches() {
    check_deterministic_features("single_5AWL_1.feat.npz");
}

#[test]
fn colabfold_padded_batches_match() {
    check_deterministic_features("batch_5AWL_1.feat.npz");
    check_deterministic_features("batch_6A5J.feat.npz");
}

/// Given ColabFold's own corruption (its `bert_mask`, and the corrupted residue read back from
/// the one-hot of `msa_feat`), clustering and `make_msa_feat` reproduce all of `msa_feat`,
/// cluster profile included, in every copy.
#[test]
fn colabfold_msa_feat_matches_given_its_corruption() {
    for file in ["single_5AWL_1.feat.npz", "batch_6A5J.feat.npz"] {
        let Some(reference) = reference(file) else {
            return;
        };
        let raw = raw_features(&reference);
        let inputs = PipelineInputs::from_raw(&raw, false).unwrap();
        let plan: CropAndPad = crop_plan(&inputs, &reference.config, [0, 0]);
        let theirs = &reference.batch;
        let (rows, padded_rows) = (reference.msa_rows, theirs["msa_feat"].shape[1]);
        let (n, padded_res) = (reference.num_res, theirs["aatype"].shape[1]);
        let copy_len = padded_rows * padded_res;
        for copy in 0..4 {
            let real = |values: &[f32]| -> Vec<f32> {
                (0..rows)
                    .flat_map(|r| values[copy * copy_len + r * padded_res..][..n].to_vec())
                    .collect()
            };
            let bert_mask = real(f32s(&theirs["bert_mask"]));
            let their_feat = f32s(&theirs["msa_feat"]);
            let corrupted: Vec<i32> = (0..rows)
                .flat_map(|r| (0..n).map(move |c| (r, c)))
                .map(|(r, c)| {
                    let at = ((copy * padded_rows + r) * padded_res + c) * 49;
                    their_feat[at..at + 23]
                        .iter()
                        .position(|&v| v == 1.0)
                        .unwrap() as i32
                })
                .collect();
            let true_msa = inputs.msa.msa.clone();
            let centres = MsaRows::new(n, true_msa.clone(), vec![0.0; rows * n]);
            let masked = MaskedMsa {
                msa: corrupted,
                bert_mask,
                true_msa,
            };
            let empty = MsaRows::new(n, Vec::new(), Vec::new());
            let mut rng = StdRng::seed_from_u64(0);
            let features =
                msa_features(&centres, &masked, &empty, &reference.config, &mut rng).unwrap();
            let ours = crop_and_pad(&features, &plan).unwrap();
            let expected = &their_feat[copy * copy_len * 49..(copy + 1) * copy_len * 49];
            assert_eq!(f32s(&ours["msa_feat"]), expected, "{file}: copy {copy}");
            let their_bert = &f32s(&theirs["bert_mask"])[copy * copy_len..(copy + 1) * copy_len];
            assert_eq!(f32s(&ours["bert_mask"]), their_bert, "{file}: copy {copy}");
        }
    }
}

/// The raw features rebuilt from 5AWL's batch are what its A3M gives through the A3M parser and
/// `make_msa_features`, so the batch comparison above also covers A3M -> batch.
#[test]
fn colabfold_a3m_gives_the_raw_features_behind_the_batch() {
    let Some(reference) = reference("single_5AWL_1.feat.npz") else {
        return;
    };
    let Some(a3m) = shared_data("colabfold/5AWL1.a3m") else {
        return;
    };
    let msa = read_a3m(&a3m).unwrap();
    let from_a3m = make_raw_features(&msa.sequences[0], "colabfold", &[&msa]).unwrap();
    let mut from_batch = raw_features(&reference);
    from_batch.remove("num_alignments");
    for (key, array) in &from_batch {
        assert_eq!(&from_a3m[key], array, "{key}");
    }
}

/// HelixFold's training example 102l_A (3015 MSA rows, 20 templates): 508 rows become cluster
/// centres and the other 2507 all fit in the 5120 extra rows; every extra row is clustered, so
/// each copy's cluster profiles sum to one per position of a real row.
#[test]
fn deep_msa_fills_clusters_and_extra_rows() {
    let Some(path) = shared_data("helixfold_train_demo/features/102l_A/features.pkl.gz") else {
        return;
    };
    let raw = read_feature_pickle(&path).unwrap();
    let config = DataConfig::for_model("model_1").unwrap();
    let started = std::time::Instant::now();
    let batch = process_features(&raw, &config, 42).unwrap();
    eprintln!("102l_A processed in {:?}", started.elapsed());
    let summary = FeatureSummary::of(&batch);
    assert_eq!(summary.num_res, Some(165));
    assert_eq!(summary.msa_depth, Some(508));
    assert_eq!(summary.extra_msa_depth, Some(2507));
    assert_eq!(summary.num_templates, Some(4));
    let msa_feat = f32s(&batch["msa_feat"]);
    let row_mask = f32s(&batch["msa_row_mask"]);
    for (position, channels) in msa_feat.chunks(49).enumerate() {
        let row = position / 165;
        let profile_sum: f32 = channels[25..48].iter().sum();
        if row_mask[row] == 1.0 {
            assert!(
                (profile_sum - 1.0).abs() < 1e-5,
                "profile sums to {profile_sum} at {position}"
            );
        } else {
            assert_eq!(profile_sum, 0.0);
        }
    }
    // The BERT corruption picks about 15% of the real positions (Suppl. 1.2.7).
    let chosen: f32 = f32s(&batch["bert_mask"]).iter().sum();
    let share = chosen / (4.0 * 508.0 * 165.0);
    assert!((share - 0.15).abs() < 0.005, "corrupted share {share}");
}

/// Clustering of a real deep MSA against a NumPy transcription of DeepMind's
/// `nearest_neighbor_clusters` / `summarize_clusters` (one-hot matmul agreement with gap weight
/// 0, `argmax`, `1e-6 + 1 + members` denominators, all in float32), run by `.venv/bin/python` on
/// 102l_A with the first 508 rows (re-ordered to AlphaFold's ids) as centres and the other 2507
/// as extra rows; it printed `counts[:6] [30, 0, 0, 1, 2, 0] max 44 argmax 284`,
/// `assign[:8] [458, 408, 203, 427, 240, 352, 505, 414]`, the profile of centre 0 at column 0
/// (`{12: 0.06451612710952759, 21: 0.9354838728904724}`) and, for centre 284, a maximum
/// deletion mean of 1.4 at column 41.
#[test]
fn clustering_matches_alphafolds_formulas_on_a_deep_msa() {
    let Some(path) = shared_data("helixfold_train_demo/features/102l_A/features.pkl.gz") else {
        return;
    };
    let raw = read_feature_pickle(&path).unwrap();
    let inputs = PipelineInputs::from_raw(&raw, false).unwrap();
    let rows: Vec<usize> = (0..inputs.msa.num_seq()).collect();
    let (centres, extra) = (
        inputs.msa.gather(&rows[..508]),
        inputs.msa.gather(&rows[508..]),
    );
    let assignment = assign_clusters(&centres, &centres.msa, &extra);
    assert_eq!(&assignment[..8], &[458, 408, 203, 427, 240, 352, 505, 414]);
    let mut counts = vec![0usize; 508];
    assignment.iter().for_each(|&c| counts[c] += 1);
    assert_eq!(&counts[..6], &[30, 0, 0, 1, 2, 0]);
    assert_eq!(counts.iter().max(), Some(&44));
    assert_eq!(counts.iter().position(|&c| c == 44), Some(284));

    let summary = summarize_clusters(&centres, &centres.msa, &extra, &assignment);
    let column_0: Vec<(usize, f64)> = summary.profile[..23]
        .iter()
        .enumerate()
        .filter(|(_, &p)| p > 0.0)
        .map(|(class, &p)| (class, p as f64))
        .collect();
    assert_eq!(
        column_0,
        vec![(12, 0.06451612710952759), (21, 0.9354838728904724)]
    );
    let means = &summary.deletion_mean[284 * 165..285 * 165];
    let (column, max) =
        means.iter().enumerate().fold(
            (0, f32::MIN),
            |best, (i, &m)| if m > best.1 { (i, m) } else { best },
        );
    assert_eq!((column, max), (41, 1.4));
}
