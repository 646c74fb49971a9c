//! Training labels from a native structure (Jumper et al. (2021) Suppl. 1.9: the targets of
//! FAPE, the torsion-angle, distogram and violation losses), with the names, shapes and dtypes
//! DeepMind's `alphafold/model/tf/data_transforms.py` (`make_atom14_positions`,
//! `atom37_to_frames`, `atom37_to_torsion_angles`, `make_pseudo_beta`) and the training batch of
//! `alphafold/model/folding.py` (`backbone_affine_tensor`, `backbone_affine_mask`) give them.
//!
//! The native is first laid onto the query sequence ([`align_native_to_query`]): label residue
//! `i` is query residue `i`, and residues the structure lacks carry all-zero masks. Every label is
//! `float32` with residues first (`N` = query length):
//!
//! | key | shape |
//! |---|---|
//! | `all_atom_positions` / `all_atom_mask` | `[N, 37, 3]` / `[N, 37]` |
//! | `atom14_gt_positions`, `atom14_alt_gt_positions` | `[N, 14, 3]` |
//! | `atom14_gt_exists`, `atom14_alt_gt_exists`, `atom14_atom_is_ambiguous` | `[N, 14]` |
//! | `rigidgroups_gt_frames`, `rigidgroups_alt_gt_frames` | `[N, 8, 12]` |
//! | `rigidgroups_gt_exists`, `rigidgroups_group_exists`, `rigidgroups_group_is_ambiguous` | `[N, 8]` |
//! | `backbone_affine_tensor` / `backbone_affine_mask` | `[N, 7]` / `[N]` |
//! | `pseudo_beta` / `pseudo_beta_mask` | `[N, 3]` / `[N]` |
//! | `chi_angles_sin_cos` / `chi_mask` | `[N, 4, 2]` / `[N, 4]` |
//! | `resolution`, `is_distillation` | `[]` |
//!
//! Frames use AlphaFold's flat-12 layout (`r3.rigids_to_tensor_flat12`): the rotation matrix row
//! by row, then the translation. The backbone affine is `QuatAffine.to_tensor`'s layout: unit
//! quaternion (real part first), then the translation (the CA position).
use crate::data::array::{FeatureDict, NpArray};
use crate::data::global_alignment::align_global;
use crate::data::protein::Protein;
use crate::geometry::atom_maps::{make_atom14_positions, pseudo_beta, pseudo_beta_mask};
use crate::geometry::frames::atom37_to_frames;
use crate::geometry::torsions::atom37_to_torsion_angles;
use crate::geometry::Rigid;
use crate::residue_constants::{restype_index, ATOM_TYPE_NUM, RESTYPES, UNKNOWN_RESTYPE};
use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

/// Index of the first chi angle among the seven torsions (pre-omega, phi, psi, chi1..4).
const FIRST_CHI: i64 = 3;
const NUM_CHI: i64 = 4;

/// The names of all label features, in the order of the module table.
pub const LABEL_KEYS: [&str; 20] = [
    "all_atom_positions",
    "all_atom_mask",
    "atom14_gt_positions",
    "atom14_gt_exists",
    "atom14_alt_gt_positions",
    "atom14_alt_gt_exists",
    "atom14_atom_is_ambiguous",
    "rigidgroups_gt_frames",
    "rigidgroups_alt_gt_frames",
    "rigidgroups_gt_exists",
    "rigidgroups_group_exists",
    "rigidgroups_group_is_ambiguous",
    "backbone_affine_tensor",
    "backbone_affine_mask",
    "pseudo_beta",
    "pseudo_beta_mask",
    "chi_angles_sin_cos",
    "chi_mask",
    "resolution",
    "is_distillation",
];

fn one_letter(aatype: usize) -> char {
    RESTYPES.get(aatype).copied().unwrap_or('X')
}

/// The native laid onto the query: a protein of the query's length whose residue `i` is the
/// native residue aligned to query residue `i` (all-zero mask where none is), with the query's
/// residue types and `residue_index` `i + 1`.
///
/// A native of the query's length and sequence is taken as it is (an mmCIF chain over its whole
/// SEQRES); otherwise the sequences are aligned globally ([`align_global`]). Fails when an
/// aligned pair differs (unknown residues match anything) or a resolved native residue has no
/// query partner: the structure is not of this sequence.
pub fn align_native_to_query(native: &Protein, query_sequence: &str) -> Result<Protein> {
    native.check_consistent()?;
    let query: Vec<usize> = query_sequence.chars().map(restype_index).collect();
    let n = query.len();
    if n == 0 {
        bail!("empty query sequence");
    }
    let same = |a: usize, b: usize| a == b || a == UNKNOWN_RESTYPE || b == UNKNOWN_RESTYPE;
    let pairs: Vec<(usize, usize)> =
        if native.len() == n && native.aatype.iter().zip(&query).all(|(&a, &b)| same(a, b)) {
            (0..n).map(|i| (i, i)).collect()
        } else {
            aligned_pairs(native, query_sequence, &query, same)?
        };
    let mut aligned = Protein {
        aatype: query,
        atom_positions: vec![[[0.0; 3]; ATOM_TYPE_NUM]; n],
        atom_mask: vec![[0.0; ATOM_TYPE_NUM]; n],
        residue_index: (1..=n as i32).collect(),
        insertion_code: vec![' '; n],
        chain_index: vec![0; n],
        chain_ids: native.chain_ids.iter().take(1).cloned().collect(),
        b_factors: vec![[0.0; ATOM_TYPE_NUM]; n],
    };
    if aligned.chain_ids.is_empty() {
        aligned.chain_ids.push("A".into());
    }
    for (native_i, query_i) in pairs {
        aligned.atom_positions[query_i] = native.atom_positions[native_i];
        aligned.atom_mask[query_i] = native.atom_mask[native_i];
        aligned.b_factors[query_i] = native.b_factors[native_i];
    }
    Ok(aligned)
}

/// (native index, query index) of the aligned columns of a global alignment.
fn aligned_pairs(
    native: &Protein,
    query_sequence: &str,
    query: &[usize],
    same: impl Fn(usize, usize) -> bool,
) -> Result<Vec<(usize, usize)>> {
    let native_sequence: String = native.aatype.iter().map(|&a| one_letter(a)).collect();
    let alignment = align_global(&native_sequence, &query_sequence.to_ascii_uppercase());
    let (mut native_i, mut query_i) = (0usize, 0usize);
    let mut pairs = Vec::new();
    for (a, b) in alignment.first.chars().zip(alignment.second.chars()) {
        match (a == '-', b == '-') {
            (false, false) => {
                if !same(native.aatype[native_i], query[query_i]) {
                    bail!(
                        "structure residue {} ({a}) is aligned to query residue {} ({b}): the structure is not of the query sequence",
                        native.residue_index[native_i],
                        query_i + 1
                    );
                }
                pairs.push((native_i, query_i));
                native_i += 1;
                query_i += 1;
            }
            (false, true) => {
                if native.atom_mask[native_i].iter().any(|&m| m > 0.0) {
                    bail!(
                        "structure residue {} ({a}) has atoms but no counterpart in the query sequence",
                        native.residue_index[native_i]
                    );
                }
                native_i += 1;
            }
            (true, false) => query_i += 1,
            (true, true) => {}
        }
    }
    Ok(pairs)
}

/// AlphaFold's flat-12 frames `[*, 12]` (rotation rows, then translation).
fn rigid_to_flat12(rigid: &Rigid) -> Tensor {
    Tensor::cat(
        &[
            rigid.rotation().matrices().flatten(-2, -1),
            rigid.translation().shallow_clone(),
        ],
        -1,
    )
}

/// The labels of `native`, already aligned to the query ([`align_native_to_query`]).
/// `resolution` is in Å (0 when unknown, e.g. a prediction used for distillation).
pub fn make_labels(
    native: &Protein,
    resolution: f32,
    is_distillation: bool,
) -> Result<FeatureDict> {
    native.check_consistent()?;
    let n = native.len() as i64;
    if n == 0 {
        bail!("the native has no residues");
    }
    let aatype = Tensor::from_slice(
        &native
            .aatype
            .iter()
            .map(|&a| a.min(UNKNOWN_RESTYPE) as i64)
            .collect::<Vec<_>>(),
    );
    let positions = Tensor::from_slice(native.atom_positions.as_flattened().as_flattened())
        .reshape([n, ATOM_TYPE_NUM as i64, 3]);
    let mask =
        Tensor::from_slice(native.atom_mask.as_flattened()).reshape([n, ATOM_TYPE_NUM as i64]);
    // Unresolved atoms sit at the origin, as AlphaFold's parsers leave them.
    let positions = &positions * mask.unsqueeze(-1);

    let atom14 = make_atom14_positions(&aatype, &positions, &mask);
    let frames = atom37_to_frames(&aatype, &positions, &mask)?;
    let torsions = atom37_to_torsion_angles(&aatype, &positions, &mask, false)?;
    let backbone = frames.gt_frames.select(-1, 0); // [N]

    let tensors: [(&str, Tensor); 20] = [
        ("all_atom_positions", positions.shallow_clone()),
        ("all_atom_mask", mask.shallow_clone()),
        ("atom14_gt_positions", atom14.atom14_gt_positions),
        ("atom14_gt_exists", atom14.atom14_gt_exists),
        ("atom14_alt_gt_positions", atom14.atom14_alt_gt_positions),
        ("atom14_alt_gt_exists", atom14.atom14_alt_gt_exists),
        ("atom14_atom_is_ambiguous", atom14.atom14_atom_is_ambiguous),
        ("rigidgroups_gt_frames", rigid_to_flat12(&frames.gt_frames)),
        (
            "rigidgroups_alt_gt_frames",
            rigid_to_flat12(&frames.alt_gt_frames),
        ),
        ("rigidgroups_gt_exists", frames.gt_exists.shallow_clone()),
        ("rigidgroups_group_exists", frames.group_exists),
        ("rigidgroups_group_is_ambiguous", frames.group_is_ambiguous),
        ("backbone_affine_tensor", backbone.to_tensor_7()),
        ("backbone_affine_mask", frames.gt_exists.select(-1, 0)),
        ("pseudo_beta", pseudo_beta(&aatype, &positions)),
        ("pseudo_beta_mask", pseudo_beta_mask(&aatype, &mask)),
        (
            "chi_angles_sin_cos",
            torsions.sin_cos.narrow(-2, FIRST_CHI, NUM_CHI),
        ),
        ("chi_mask", torsions.mask.narrow(-1, FIRST_CHI, NUM_CHI)),
        ("resolution", Tensor::from(resolution)),
        (
            "is_distillation",
            Tensor::from(if is_distillation { 1.0f32 } else { 0.0 }),
        ),
    ];
    let mut labels = FeatureDict::new();
    for (key, tensor) in tensors {
        let tensor = if tensor.kind() == Kind::Double {
            tensor.to_kind(Kind::Float)
        } else {
            tensor
        };
        let array = NpArray::from_tensor(&tensor).with_context(|| format!("label {key}"))?;
        labels.insert(key.to_owned(), array);
    }
    Ok(labels)
}

/// Sets the atom mask of every residue whose CA B-factor (pLDDT in a prediction) is below
/// `min_plddt` to zero: the per-residue filter of AlphaFold's self-distillation set (Jumper et
/// al. (2021) Suppl. 1.3). Returns the mean CA pLDDT over the residues with a CA (0 if none).
pub fn mask_low_plddt_residues(protein: &mut Protein, min_plddt: f32) -> f32 {
    let ca = crate::residue_constants::atom37_index("CA").unwrap_or(1);
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for (mask, b_factors) in protein.atom_mask.iter_mut().zip(&protein.b_factors) {
        if mask[ca] <= 0.0 {
            continue;
        }
        let plddt = b_factors[ca];
        sum += plddt as f64;
        count += 1;
        if plddt < min_plddt {
            *mask = [0.0; ATOM_TYPE_NUM];
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::array::ArrayData;
    use crate::data::mmcif::{mmcif_chain_to_protein, read_mmcif};
    use crate::data::pdb::read_pdb;
    use crate::testing::shared_data;

    fn f32s(labels: &FeatureDict, key: &str) -> Vec<f32> {
        match &labels[key].data {
            ArrayData::F32(v) => v.clone(),
            other => panic!("{key} is {}", other.dtype_name()),
        }
    }

    fn check_shapes(labels: &FeatureDict, n: usize) {
        let expected: [(&str, Vec<usize>); 20] = [
            ("all_atom_positions", vec![n, 37, 3]),
            ("all_atom_mask", vec![n, 37]),
            ("atom14_gt_positions", vec![n, 14, 3]),
            ("atom14_gt_exists", vec![n, 14]),
            ("atom14_alt_gt_positions", vec![n, 14, 3]),
            ("atom14_alt_gt_exists", vec![n, 14]),
            ("atom14_atom_is_ambiguous", vec![n, 14]),
            ("rigidgroups_gt_frames", vec![n, 8, 12]),
            ("rigidgroups_alt_gt_frames", vec![n, 8, 12]),
            ("rigidgroups_gt_exists", vec![n, 8]),
            ("rigidgroups_group_exists", vec![n, 8]),
            ("rigidgroups_group_is_ambiguous", vec![n, 8]),
            ("backbone_affine_tensor", vec![n, 7]),
            ("backbone_affine_mask", vec![n]),
            ("pseudo_beta", vec![n, 3]),
            ("pseudo_beta_mask", vec![n]),
            ("chi_angles_sin_cos", vec![n, 4, 2]),
            ("chi_mask", vec![n, 4]),
            ("resolution", vec![]),
            ("is_distillation", vec![]),
        ];
        for (key, shape) in expected {
            assert_eq!(labels[key].shape, shape, "{key}");
            assert_eq!(labels[key].dtype_name(), "float32", "{key}");
        }
        assert_eq!(labels.len(), LABEL_KEYS.len());
    }

    /// The backbone frames rebuild N, CA, C: CA is the origin of each frame, C lies on its
    /// x-axis at the CA-C distance and N in its xy-plane, for every residue whose backbone mask is
    /// set; the affine tensor's translation is CA too.
    fn check_backbone(labels: &FeatureDict, native: &Protein) {
        let frames = f32s(labels, "rigidgroups_gt_frames");
        let affine = f32s(labels, "backbone_affine_tensor");
        let mask = f32s(labels, "backbone_affine_mask");
        let mut checked = 0;
        for i in 0..native.len() {
            let atoms = native.atom_positions[i];
            let resolved = [0usize, 1, 2].iter().all(|&a| native.atom_mask[i][a] > 0.0);
            assert_eq!(mask[i], if resolved { 1.0 } else { 0.0 }, "residue {i}");
            if !resolved {
                continue;
            }
            let f = &frames[i * 96..i * 96 + 12];
            let rot = |r: usize, c: usize| f[r * 3 + c];
            let t = [f[9], f[10], f[11]];
            // local = R^T (x - t)
            let local = |x: [f32; 3]| -> [f32; 3] {
                let d = [x[0] - t[0], x[1] - t[1], x[2] - t[2]];
                let mut out = [0.0; 3];
                for (c, o) in out.iter_mut().enumerate() {
                    *o = (0..3).map(|r| rot(r, c) * d[r]).sum();
                }
                out
            };
            let (n_atom, ca, c) = (atoms[0], atoms[1], atoms[2]);
            assert!((0..3).all(|k| (t[k] - ca[k]).abs() < 1e-4));
            assert!((0..3).all(|k| (affine[i * 7 + 4 + k] - ca[k]).abs() < 1e-4));
            let c_local = local(c);
            let ca_c: f32 = (0..3).map(|k| (c[k] - ca[k]).powi(2)).sum::<f32>().sqrt();
            assert!((c_local[0] - ca_c).abs() < 1e-3, "{c_local:?}");
            assert!(
                c_local[1].abs() < 1e-3 && c_local[2].abs() < 1e-3,
                "{c_local:?}"
            );
            let n_local = local(n_atom);
            assert!(n_local[2].abs() < 1e-3 && n_local[1] > 0.0, "{n_local:?}");
            checked += 1;
        }
        assert!(checked > 0);
    }

    /// 1psm chain A over its SEQRES (openfold_mini/mmcif/1psm.cif); residues the mmCIF lacks
    /// have zero masks everywhere.
    #[test]
    fn labels_of_1psm_reproduce_its_backbone() {
        let Some(path) = shared_data("openfold_mini/mmcif/1psm.cif") else {
            return;
        };
        let mmcif = read_mmcif(&path).unwrap();
        let chain = mmcif_chain_to_protein(&mmcif, "A").unwrap();
        let sequence: String = chain.aatype.iter().map(|&a| one_letter(a)).collect();
        let native = align_native_to_query(&chain, &sequence).unwrap();
        assert_eq!(native.atom_mask, chain.atom_mask);
        let labels = make_labels(&native, mmcif.header.resolution as f32, false).unwrap();
        check_shapes(&labels, native.len());
        check_backbone(&labels, &native);
        assert_eq!(
            f32s(&labels, "resolution"),
            vec![mmcif.header.resolution as f32]
        );
        let exists = f32s(&labels, "atom14_gt_exists");
        let pseudo_beta_mask = f32s(&labels, "pseudo_beta_mask");
        let chi_mask = f32s(&labels, "chi_mask");
        for i in 0..native.len() {
            if native.atom_mask[i].iter().all(|&m| m == 0.0) {
                assert!(exists[i * 14..(i + 1) * 14].iter().all(|&m| m == 0.0));
                assert_eq!(pseudo_beta_mask[i], 0.0);
                assert!(chi_mask[i * 4..(i + 1) * 4].iter().all(|&m| m == 0.0));
            }
        }
    }

    /// T1026's native (casp14_demo/T1026/native.pdb) resolves 146 of the 172 FASTA residues and
    /// is numbered as the FASTA: alignment must put each residue at its number.
    #[test]
    fn t1026_native_aligns_by_sequence_and_masks_missing_residues() {
        let (Some(pdb), Some(fasta)) = (
            shared_data("casp14_demo/T1026/native.pdb"),
            shared_data("casp14_demo/T1026/T1026.fasta"),
        ) else {
            return;
        };
        let native = read_pdb(&pdb).unwrap();
        let text = std::fs::read_to_string(fasta).unwrap();
        let sequence: String = text.lines().skip(1).collect::<String>().trim().to_string();
        assert_eq!(sequence.len(), 172);
        let aligned = align_native_to_query(&native, &sequence).unwrap();
        assert_eq!(aligned.len(), 172);
        for (k, &number) in native.residue_index.iter().enumerate() {
            assert_eq!(
                aligned.atom_positions[number as usize - 1],
                native.atom_positions[k]
            );
        }
        let numbered: std::collections::HashSet<i32> =
            native.residue_index.iter().copied().collect();
        let labels = make_labels(&aligned, 0.0, false).unwrap();
        check_shapes(&labels, 172);
        check_backbone(&labels, &aligned);
        let all_atom_mask = f32s(&labels, "all_atom_mask");
        let frames_exist = f32s(&labels, "rigidgroups_gt_exists");
        for i in 0..172 {
            if !numbered.contains(&(i as i32 + 1)) {
                assert!(all_atom_mask[i * 37..(i + 1) * 37]
                    .iter()
                    .all(|&m| m == 0.0));
                assert!(frames_exist[i * 8..(i + 1) * 8].iter().all(|&m| m == 0.0));
            }
        }
    }

    #[test]
    fn a_structure_of_another_sequence_is_rejected() {
        let Some(pdb) = shared_data("casp14_demo/T1026/native.pdb") else {
            return;
        };
        let native = read_pdb(&pdb).unwrap();
        let err = align_native_to_query(&native, "MKWVLLLGGGAAAWWWKKK")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not of the query") || err.contains("no counterpart"),
            "{err}"
        );
    }

    /// 1psm with its OpenFold alignment (openfold_mini/alignments/1psm_A): the labels are
    /// cropped with the features' residue window and stacked on the recycle axis.
    #[test]
    fn training_pipeline_crops_labels_with_the_features() {
        use crate::data::features::sequence_features::make_raw_features;
        use crate::data::features::{process_training_features, DataConfig};
        use crate::data::msa::read_a3m;
        let (Some(cif), Some(a3m)) = (
            shared_data("openfold_mini/mmcif/1psm.cif"),
            shared_data("openfold_mini/alignments/1psm_A/bfd_uniclust_hits.a3m"),
        ) else {
            return;
        };
        let mut msa = read_a3m(&a3m).unwrap();
        msa.truncate(8);
        let sequence = msa.sequences[0].clone();
        let raw = make_raw_features(&sequence, "1psm_A", &[&msa]).unwrap();
        let chain = mmcif_chain_to_protein(&read_mmcif(&cif).unwrap(), "A").unwrap();
        let native = align_native_to_query(&chain, &sequence).unwrap();
        let labels = make_labels(&native, 1.0, false).unwrap();
        let (crop, copies) = (16usize, 2usize);
        let config = DataConfig {
            max_msa_clusters: 4,
            max_extra_msa: 4,
            crop_size: Some(crop),
            num_recycle: copies - 1,
            ..DataConfig::default()
        };
        let batch = process_training_features(&raw, &labels, &config, 7).unwrap();
        assert_eq!(batch["all_atom_positions"].shape, vec![copies, crop, 37, 3]);
        assert_eq!(
            batch["rigidgroups_gt_frames"].shape,
            vec![copies, crop, 8, 12]
        );
        assert_eq!(batch["resolution"].shape, vec![copies]);
        let ArrayData::I32(residue_index) = &batch["residue_index"].data else {
            panic!()
        };
        let start = residue_index[0] as usize;
        let full = f32s(&labels, "atom14_gt_positions");
        let cropped = f32s(&batch, "atom14_gt_positions");
        let per_copy = crop * 14 * 3;
        for copy in 0..copies {
            assert_eq!(
                cropped[copy * per_copy..(copy + 1) * per_copy],
                full[start * 42..(start + crop) * 42]
            );
        }
        let mut wrong = labels.clone();
        wrong.insert(
            "pseudo_beta_mask".into(),
            NpArray::new(vec![3], ArrayData::F32(vec![1.0; 3])).unwrap(),
        );
        assert!(process_training_features(&raw, &wrong, &config, 7).is_err());
    }

    #[test]
    fn low_plddt_residues_lose_their_atoms() {
        let mut protein = Protein {
            aatype: vec![0, 7],
            atom_positions: vec![[[1.0; 3]; ATOM_TYPE_NUM]; 2],
            atom_mask: vec![[1.0; ATOM_TYPE_NUM]; 2],
            residue_index: vec![1, 2],
            insertion_code: vec![' '; 2],
            chain_index: vec![0; 2],
            chain_ids: vec!["A".into()],
            b_factors: vec![[90.0; ATOM_TYPE_NUM], [40.0; ATOM_TYPE_NUM]],
        };
        let mean = mask_low_plddt_residues(&mut protein, 70.0);
        assert_eq!(mean, 65.0);
        assert_eq!(protein.atom_mask[0], [1.0; ATOM_TYPE_NUM]);
        assert_eq!(protein.atom_mask[1], [0.0; ATOM_TYPE_NUM]);
        let labels = make_labels(&protein, 0.0, true).unwrap();
        assert_eq!(f32s(&labels, "is_distillation"), vec![1.0]);
        assert_eq!(f32s(&labels, "pseudo_beta_mask"), vec![1.0, 0.0]);
    }
}
