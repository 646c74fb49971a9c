//! Template features from HHsearch hits, as DeepMind's `alphafold/data/templates.py`
//! (`TemplateHitFeaturizer.get_templates`) computes them: hits are taken in decreasing
//! `sum_probs`, pre-filtered without their structure, then each hit's template chain is read from
//! `<mmcif_dir>/<pdb id>.cif` and its atoms are placed at the query residues the HHsearch
//! alignment maps them to, until `max_hits` templates are found.
//!
//! Per template `t` and query residue `i` (`N_res` residues):
//! - `template_aatype` `[T, N_res, 22]`: one-hot HHblits residue ids (`msa::HHBLITS_AA_TO_ID`;
//!   gap 21 where no template residue is aligned);
//! - `template_all_atom_positions` `[T, N_res, 37, 3]` and `template_all_atom_masks`
//!   `[T, N_res, 37]`: atom37 coordinates of the aligned template residue (zero where none);
//! - `template_sequence` `[T]`: the aligned template letters, `-` for unaligned query residues;
//! - `template_domain_names` `[T]`: `<pdb id>_<chain>`; `template_sum_probs` `[T, 1]`.
//!
//! A hit is skipped when its PDB id is the query's, its release date is after the cut-off
//! (`max_template_date`, or the query's release date minus 60 days when earlier), it aligns
//! ≤ 10 % of the query, it is a ≥ 95 %-long exact subsequence of the query, its template has
//! fewer than 10 residues, or its aligned residues have fewer than 5 atoms in the structure.
//!
//! When the hit's sequence is not found in the mmCIF chain (PDB70 holds another version of the
//! entry), the hit is re-aligned to the chain's SEQRES and kept if 90 % of the shorter sequence is
//! identical. AlphaFold calls the external `kalign` for this; here it is the Rust global alignment
//! of [`super::global_alignment`].
//!
//! Differences from AlphaFold, each where AlphaFold crashes or silently misplaces atoms:
//! - a missing or unreadable mmCIF file, or one without a release date, is a per-hit error or
//!   warning instead of aborting the whole search;
//! - query residues that the re-alignment leaves unmatched get no template residue (AlphaFold
//!   maps them to index -1, i.e. the chain's last residue);
//! - a hit whose query segment is not part of the query sequence is an error (AlphaFold shifts
//!   the mapping by -1);
//! - with no template found the arrays have shape `[0, N_res, ...]` rather than `[0]`;
//! - the optional pre-computed PDB release-date table (a speed-up only; the mmCIF header decides)
//!   is not supported.
use super::array::{ArrayData, FeatureDict, NpArray};
use super::global_alignment::align_global;
use super::hhr::TemplateHit;
use super::mmcif::{mmcif_chain_to_protein, read_mmcif, MmcifObject};
use super::msa::{hhblits_aa_id, HHBLITS_NUM_CLASSES};
use super::release_date::ReleaseDate;
use super::text_file::read_text_file;
use crate::residue_constants::{atom37_index, ATOM_TYPE_NUM};
use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Templates whose aligned residues are identical to this fraction of the query are duplicates.
const MAX_SUBSEQUENCE_RATIO: f64 = 0.95;
/// Hits aligning at most this fraction of the query are skipped.
const MIN_ALIGN_RATIO: f64 = 0.1;
/// Templates shorter than this are skipped.
const MIN_TEMPLATE_LENGTH: usize = 10;
/// Consecutive observed CA atoms farther apart than this (Å) reject the chain ("essentially
/// infinity" in AlphaFold: only really broken files).
const MAX_CA_CA_DISTANCE: f32 = 150.0;
/// A re-aligned template must share this fraction of residues with the hit's sequence.
const MIN_REALIGN_IDENTITY: f64 = 0.9;
/// Alanine, the smallest residue, has 5 heavy atoms; fewer atoms than that means no structure.
const MIN_ATOMS: f32 = 5.0;
/// Days between a query's release and the latest template allowed for it.
const QUERY_RELEASE_MARGIN_DAYS: i64 = 60;

/// One template aligned to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `<pdb id>_<chain>`, e.g. `3u8v_A`.
    pub domain_name: String,
    /// `[N_res]` template residue letter aligned to each query residue, `-` where none.
    pub sequence: String,
    pub sum_probs: f32,
    /// `[N_res, 37, 3]` atom coordinates in Å.
    pub all_atom_positions: Vec<[[f32; 3]; ATOM_TYPE_NUM]>,
    /// `[N_res, 37]` 1.0 where the atom is present.
    pub all_atom_masks: Vec<[f32; ATOM_TYPE_NUM]>,
}

impl Template {
    /// `[N_res]` HHblits residue ids of [`Template::sequence`].
    pub fn hhblits_ids(&self) -> Result<Vec<i32>> {
        self.sequence
            .chars()
            .map(|c| {
                hhblits_aa_id(c).with_context(|| {
                    format!("template {}: {c:?} has no HHblits id", self.domain_name)
                })
            })
            .collect()
    }
}

/// What [`TemplateHitFeaturizer::get_templates`] found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateSearchResult {
    /// At most `max_hits` templates, best `sum_probs` first.
    pub templates: Vec<Template>,
    /// Hits rejected for a problem with the search or the data (one line each).
    pub errors: Vec<String>,
    /// Hits rejected for missing experimental data, and re-alignments made.
    pub warnings: Vec<String>,
}

impl TemplateSearchResult {
    /// AlphaFold's template features (see the module doc for names and shapes).
    pub fn to_feature_dict(&self, num_res: usize) -> Result<FeatureDict> {
        let count = self.templates.len();
        let mut aatype = Vec::with_capacity(count * num_res * HHBLITS_NUM_CLASSES);
        let mut positions = Vec::with_capacity(count * num_res * ATOM_TYPE_NUM * 3);
        let mut masks = Vec::with_capacity(count * num_res * ATOM_TYPE_NUM);
        for template in &self.templates {
            ensure!(
                template.sequence.len() == num_res
                    && template.all_atom_positions.len() == num_res
                    && template.all_atom_masks.len() == num_res,
                "template {} does not have {num_res} residues",
                template.domain_name
            );
            for id in template.hhblits_ids()? {
                let mut one_hot = [0.0f32; HHBLITS_NUM_CLASSES];
                one_hot[id as usize] = 1.0;
                aatype.extend_from_slice(&one_hot);
            }
            positions.extend(template.all_atom_positions.iter().flatten().flatten());
            masks.extend(template.all_atom_masks.iter().flatten());
        }
        let bytes = |f: fn(&Template) -> &str| {
            ArrayData::Bytes(
                self.templates
                    .iter()
                    .map(|t| f(t).as_bytes().to_vec())
                    .collect(),
            )
        };
        let mut features = FeatureDict::new();
        features.insert(
            "template_aatype".into(),
            NpArray::new(
                vec![count, num_res, HHBLITS_NUM_CLASSES],
                ArrayData::F32(aatype),
            )?,
        );
        features.insert(
            "template_all_atom_positions".into(),
            NpArray::new(
                vec![count, num_res, ATOM_TYPE_NUM, 3],
                ArrayData::F32(positions),
            )?,
        );
        features.insert(
            "template_all_atom_masks".into(),
            NpArray::new(vec![count, num_res, ATOM_TYPE_NUM], ArrayData::F32(masks))?,
        );
        features.insert(
            "template_sequence".into(),
            NpArray::new(vec![count], bytes(|t| t.sequence.as_str()))?,
        );
        features.insert(
            "template_domain_names".into(),
            NpArray::new(vec![count], bytes(|t| t.domain_name.as_str()))?,
        );
        features.insert(
            "template_sum_probs".into(),
            NpArray::new(
                vec![count, 1],
                ArrayData::F32(self.templates.iter().map(|t| t.sum_probs).collect()),
            )?,
        );
        Ok(features)
    }
}

/// Turns HHsearch hits into template features (AlphaFold's `TemplateHitFeaturizer`).
#[derive(Debug, Clone)]
pub struct TemplateHitFeaturizer {
    mmcif_dir: PathBuf,
    max_template_date: ReleaseDate,
    max_hits: usize,
    /// Obsolete PDB id -> its replacement.
    obsolete_pdbs: HashMap<String, String>,
    /// Whether date, PDB-id and duplicate rejections and missing-data rejections are reported as
    /// errors (AlphaFold's `strict_error_check`).
    strict_error_check: bool,
}

/// Outcome of one hit: features, or why not.
enum HitOutcome {
    Template {
        template: Template,
        warning: Option<String>,
    },
    Skipped,
    Error(String),
    Warning(String),
}

/// Why the template's atoms could not be used; AlphaFold reports these as warnings, as they mean
/// missing experimental data rather than a bad search.
enum ExtractError {
    MissingData(String),
    Other(String),
}

impl TemplateHitFeaturizer {
    /// `max_template_date` is `YYYY-MM-DD`; `mmcif_dir` must hold `.cif` files.
    pub fn new(mmcif_dir: &Path, max_template_date: &str, max_hits: usize) -> Result<Self> {
        let has_cif = std::fs::read_dir(mmcif_dir)
            .with_context(|| format!("cannot list template mmCIF folder {}", mmcif_dir.display()))?
            .filter_map(|entry| entry.ok())
            .any(|entry| entry.path().extension().is_some_and(|e| e == "cif"));
        ensure!(
            has_cif,
            "could not find .cif files in {}",
            mmcif_dir.display()
        );
        let max_template_date = ReleaseDate::parse(max_template_date)
            .context("max_template_date must be set and have format YYYY-MM-DD")?;
        Ok(Self {
            mmcif_dir: mmcif_dir.to_path_buf(),
            max_template_date,
            max_hits,
            obsolete_pdbs: HashMap::new(),
            strict_error_check: false,
        })
    }

    /// Uses the PDB's list of obsolete entries (`obsolete.dat`) to follow replaced entries.
    pub fn with_obsolete_pdbs(mut self, path: &Path) -> Result<Self> {
        self.obsolete_pdbs = parse_obsolete(&read_text_file(path)?);
        Ok(self)
    }

    /// Reports rejections for date, PDB id, duplicates and missing data as errors.
    pub fn with_strict_error_check(mut self, strict: bool) -> Self {
        self.strict_error_check = strict;
        self
    }

    /// Finds up to `max_hits` templates for `query_sequence` among `hits`. `query_pdb_code` and
    /// `query_release_date` (training) exclude the query's own entry and later structures.
    /// Fails only for a hit name that is not `<pdb id>_<chain>` (a search against the wrong
    /// database), as AlphaFold does.
    pub fn get_templates(
        &self,
        query_sequence: &str,
        query_pdb_code: Option<&str>,
        query_release_date: Option<ReleaseDate>,
        hits: &[TemplateHit],
    ) -> Result<TemplateSearchResult> {
        ensure!(!query_sequence.is_empty(), "the query sequence is empty");
        let cutoff = match query_release_date {
            Some(date) => self
                .max_template_date
                .min(date.minus_days(QUERY_RELEASE_MARGIN_DAYS)),
            None => self.max_template_date,
        };
        let mut ranked: Vec<&TemplateHit> = hits.iter().collect();
        ranked.sort_by(|a, b| b.sum_probs.total_cmp(&a.sum_probs));
        let mut result = TemplateSearchResult::default();
        for hit in ranked {
            if result.templates.len() >= self.max_hits {
                break;
            }
            match self.process_hit(query_sequence, query_pdb_code, cutoff, hit)? {
                HitOutcome::Template { template, warning } => {
                    result.warnings.extend(warning);
                    result.templates.push(template);
                }
                HitOutcome::Skipped => {}
                HitOutcome::Error(error) => result.errors.push(error),
                HitOutcome::Warning(warning) => result.warnings.push(warning),
            }
        }
        Ok(result)
    }

    fn process_hit(
        &self,
        query_sequence: &str,
        query_pdb_code: Option<&str>,
        cutoff: ReleaseDate,
        hit: &TemplateHit,
    ) -> Result<HitOutcome> {
        let (mut pdb_id, chain_id) = pdb_id_and_chain(&hit.name)?;
        if let Some(replacement) = self.obsolete_pdbs.get(&pdb_id) {
            pdb_id = replacement.clone();
        }
        let label = format!(
            "{pdb_id}_{chain_id} (sum_probs: {:.2}, rank: {})",
            hit.sum_probs, hit.index
        );
        if let Err(rejection) = prefilter(hit, &pdb_id, query_sequence, query_pdb_code) {
            let message = format!("{label}: did not pass prefilter: {}", rejection.reason);
            return Ok(if rejection.is_strict_error {
                self.strict_rejection(message)
            } else {
                HitOutcome::Skipped
            });
        }
        let mapping = match query_to_hit_mapping(hit, query_sequence) {
            Ok(mapping) => mapping,
            Err(err) => return Ok(HitOutcome::Error(format!("{label}: {err:#}"))),
        };
        let template_sequence = hit.hit_sequence.replace('-', "");

        let cif_path = self.mmcif_dir.join(format!("{pdb_id}.cif"));
        let mmcif = match read_mmcif(&cif_path) {
            Ok(mmcif) => mmcif,
            Err(err) if !cif_path.exists() => {
                return Ok(HitOutcome::Error(format!(
                    "{label}: no mmCIF file: {err:#}"
                )))
            }
            Err(err) => {
                return Ok(self.missing_data(format!("{label}: mmCIF parsing error: {err:#}")))
            }
        };
        let release_date = mmcif.header.release_date.as_deref().map(ReleaseDate::parse);
        match release_date {
            Some(Ok(date)) if date > cutoff => {
                let message =
                    format!("{label}: template date ({date}) > max template date ({cutoff})");
                return Ok(self.strict_rejection(message));
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                return Ok(self.missing_data(format!("{label}: bad release date: {err:#}")))
            }
            None => {
                return Ok(self.missing_data(format!("{label}: mmCIF file has no release date")))
            }
        }

        match extract_template(
            &mmcif,
            &pdb_id,
            &chain_id,
            mapping,
            template_sequence,
            query_sequence,
            hit.sum_probs,
        ) {
            Ok((template, warning)) => Ok(HitOutcome::Template { template, warning }),
            Err(ExtractError::MissingData(reason)) => {
                Ok(self.missing_data(format!("{label}: {reason}")))
            }
            Err(ExtractError::Other(reason)) => Ok(HitOutcome::Error(format!("{label}: {reason}"))),
        }
    }

    /// A rejection that strict mode reports as an error and otherwise skips silently.
    fn strict_rejection(&self, message: String) -> HitOutcome {
        if self.strict_error_check {
            HitOutcome::Error(message)
        } else {
            HitOutcome::Skipped
        }
    }

    /// Missing experimental data: a warning, or an error in strict mode.
    fn missing_data(&self, message: String) -> HitOutcome {
        if self.strict_error_check {
            HitOutcome::Error(message)
        } else {
            HitOutcome::Warning(message)
        }
    }
}

/// PDB id (lower case) and chain of a hit named `1abc_A ...` (4 alphanumerics, `_`, then
/// alphanumerics or `.`).
fn pdb_id_and_chain(name: &str) -> Result<(String, String)> {
    let is_id = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let chain_end = name
        .bytes()
        .enumerate()
        .skip(5)
        .find(|(_, b)| !(b.is_ascii_alphanumeric() || *b == b'.'))
        .map_or(name.len(), |(i, _)| i);
    match (name.get(..4), name.get(4..5), name.get(5..chain_end)) {
        (Some(id), Some("_"), Some(chain)) if is_id(id) && !chain.is_empty() => {
            Ok((id.to_ascii_lowercase(), chain.to_string()))
        }
        _ => bail!("hit name does not start with <pdb id>_<chain>: {name:?}"),
    }
}

/// Parses the PDB's `obsolete.dat`: `OBSLTE    31-JUL-94 116L     216L` maps 116l to 216l;
/// entries without a replacement are skipped.
fn parse_obsolete(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with("OBSLTE") && line.len() > 30)
        .filter_map(|line| {
            Some((
                line.get(20..24)?.to_ascii_lowercase(),
                line.get(29..33)?.to_ascii_lowercase(),
            ))
        })
        .collect()
}

struct Rejection {
    reason: String,
    /// Date, PDB-id and duplicate rejections, which strict mode reports.
    is_strict_error: bool,
}

/// AlphaFold's `_assess_hhsearch_hit`, without the release-date table.
fn prefilter(
    hit: &TemplateHit,
    pdb_id: &str,
    query_sequence: &str,
    query_pdb_code: Option<&str>,
) -> std::result::Result<(), Rejection> {
    let query_len = query_sequence.len() as f64;
    let template_sequence = hit.hit_sequence.replace('-', "");
    let align_ratio = hit.aligned_cols as f64 / query_len;
    let length_ratio = template_sequence.len() as f64 / query_len;
    let reject = |reason: String, is_strict_error: bool| {
        Err(Rejection {
            reason,
            is_strict_error,
        })
    };
    if query_pdb_code.is_some_and(|code| code.eq_ignore_ascii_case(pdb_id)) {
        return reject("PDB code identical to query PDB code".into(), true);
    }
    if align_ratio <= MIN_ALIGN_RATIO {
        return reject(
            format!("proportion of residues aligned to query too small: {align_ratio}"),
            false,
        );
    }
    if query_sequence.contains(template_sequence.as_str()) && length_ratio > MAX_SUBSEQUENCE_RATIO {
        return reject(
            format!("template is an exact subsequence of the query, length ratio {length_ratio}"),
            true,
        );
    }
    if template_sequence.len() < MIN_TEMPLATE_LENGTH {
        return reject(
            format!("template too short: {} residues", template_sequence.len()),
            false,
        );
    }
    Ok(())
}

/// Query residue index -> index in the hit's gap-free sequence, from the HHsearch alignment
/// (AlphaFold's `_build_query_to_hit_index_mapping`). HHsearch numbers the template from the
/// start of its PDB70 sequence, so both index lists are shifted to start at 0; the query segment
/// is located in the full query by string search.
fn query_to_hit_mapping(hit: &TemplateHit, query_sequence: &str) -> Result<BTreeMap<usize, usize>> {
    let mut mapping = BTreeMap::new();
    if hit.query.is_empty() {
        return Ok(mapping);
    }
    let hit_query = hit.query.replace('-', "");
    let hit_length = hit.hit_sequence.bytes().filter(|&b| b != b'-').count();
    let offset = query_sequence
        .find(hit_query.as_str())
        .with_context(|| format!("the hit's query segment {hit_query} is not part of the query"))?;
    let first = |indices: &[i32]| indices.iter().copied().filter(|&x| x > -1).min();
    let (Some(first_query), Some(first_hit)) = (first(&hit.indices_query), first(&hit.indices_hit))
    else {
        return Ok(mapping);
    };
    for (&q, &t) in hit.indices_query.iter().zip(&hit.indices_hit) {
        if q < 0 || t < 0 {
            continue;
        }
        let query_index = (q - first_query) as usize + offset;
        let hit_index = (t - first_hit) as usize;
        if hit_index < hit_length && query_index < query_sequence.len() {
            mapping.insert(query_index, hit_index);
        }
    }
    Ok(mapping)
}

/// Where the hit's sequence sits in the structure: chain id and the offset of the hit sequence
/// in the chain's SEQRES (AlphaFold's `_find_template_in_pdb`): the named chain if it contains the
/// sequence, else any chain that does, else any chain matching with `X` as a wildcard on either
/// side.
fn find_template_in_pdb<'a>(
    chain_id: &str,
    template_sequence: &str,
    mmcif: &'a MmcifObject,
) -> Option<(&'a str, usize)> {
    if let Some((id, seqres)) = mmcif.chain_to_seqres.get_key_value(chain_id) {
        if let Some(offset) = seqres.find(template_sequence) {
            return Some((id.as_str(), offset));
        }
    }
    for (id, seqres) in &mmcif.chain_to_seqres {
        if let Some(offset) = seqres.find(template_sequence) {
            return Some((id.as_str(), offset));
        }
    }
    let template = template_sequence.as_bytes();
    for (id, seqres) in &mmcif.chain_to_seqres {
        let chain = seqres.as_bytes();
        let matches_at = |start: usize| {
            template
                .iter()
                .zip(&chain[start..])
                .all(|(&t, &c)| t == b'X' || c == b'X' || t == c)
        };
        if chain.len() >= template.len() {
            if let Some(offset) = (0..=chain.len() - template.len()).find(|&s| matches_at(s)) {
                return Some((id.as_str(), offset));
            }
        }
    }
    None
}

/// Re-aligns the hit's sequence to the chain's SEQRES and carries the query mapping over
/// (AlphaFold's `_realign_pdb_template_to_query`); returns the SEQRES and the new mapping.
fn realign_template_to_query<'a>(
    old_template_sequence: &str,
    chain_id: &str,
    mmcif: &'a MmcifObject,
    old_mapping: &BTreeMap<usize, usize>,
) -> std::result::Result<(&'a str, BTreeMap<usize, usize>), String> {
    let new_template_sequence = match mmcif.chain_to_seqres.get(chain_id) {
        Some(seqres) if !seqres.is_empty() => seqres.as_str(),
        // An unknown chain id is safe to resolve when the entry has a single chain.
        _ if mmcif.chain_to_seqres.len() == 1 => mmcif
            .chain_to_seqres
            .values()
            .next()
            .map_or("", |s| s.as_str()),
        _ => {
            return Err(format!(
                "could not find chain {chain_id} in {}; it may not be a protein chain",
                mmcif.file_id
            ))
        }
    };
    let alignment = align_global(old_template_sequence, new_template_sequence);
    let mut old_to_new = HashMap::new();
    let (mut old_index, mut new_index) = (0usize, 0usize);
    let mut identical = 0usize;
    for (old, new) in alignment.first.bytes().zip(alignment.second.bytes()) {
        if old != b'-' && new != b'-' {
            old_to_new.insert(old_index, new_index);
            identical += usize::from(old == new);
        }
        old_index += usize::from(old != b'-');
        new_index += usize::from(new != b'-');
    }
    let shorter = old_template_sequence
        .len()
        .min(new_template_sequence.len())
        .max(1);
    if (identical as f64) / (shorter as f64) < MIN_REALIGN_IDENTITY {
        return Err(format!(
            "insufficient similarity of the hit sequence {old_template_sequence} to the chain \
             {}_{chain_id} {new_template_sequence}: {identical} identical residues, at least 90 % \
             of the shorter sequence required",
            mmcif.file_id
        ));
    }
    let new_mapping = old_mapping
        .iter()
        .filter_map(|(&query_index, old)| old_to_new.get(old).map(|&new| (query_index, new)))
        .collect();
    Ok((new_template_sequence, new_mapping))
}

/// Checks that consecutive observed CA atoms are at most [`MAX_CA_CA_DISTANCE`] apart.
fn check_residue_distances(
    positions: &[[[f32; 3]; ATOM_TYPE_NUM]],
    masks: &[[f32; ATOM_TYPE_NUM]],
    ca: usize,
) -> std::result::Result<(), String> {
    let mut previous: Option<[f32; 3]> = None;
    for (i, (position, mask)) in positions.iter().zip(masks).enumerate() {
        if mask[ca] > 0.5 {
            let this = position[ca];
            if let Some(previous) = previous {
                let distance = (0..3)
                    .map(|k| (this[k] - previous[k]).powi(2))
                    .sum::<f32>()
                    .sqrt();
                if distance > MAX_CA_CA_DISTANCE {
                    return Err(format!(
                        "the distance between residues {i} and {} is {distance} > limit {MAX_CA_CA_DISTANCE}",
                        i + 1
                    ));
                }
            }
            previous = Some(this);
        } else {
            previous = None;
        }
    }
    Ok(())
}

/// The template's atoms at the query residues (AlphaFold's `_extract_template_features`); the
/// second value is a warning when the hit had to be re-aligned.
fn extract_template(
    mmcif: &MmcifObject,
    pdb_id: &str,
    chain_id: &str,
    mapping: BTreeMap<usize, usize>,
    template_sequence: String,
    query_sequence: &str,
    sum_probs: f32,
) -> std::result::Result<(Template, Option<String>), ExtractError> {
    if mmcif.chain_to_seqres.is_empty() {
        return Err(ExtractError::MissingData(format!(
            "no chains in PDB: {pdb_id}_{chain_id}"
        )));
    }
    let (chain_id, template_sequence, mapping, offset, warning) =
        match find_template_in_pdb(chain_id, &template_sequence, mmcif) {
            Some((found_chain, offset)) => (
                found_chain.to_string(),
                template_sequence,
                mapping,
                offset,
                None,
            ),
            None => {
                let warning = format!(
                    "the exact sequence {template_sequence} was not found in {pdb_id}_{chain_id}; \
                     realigned the template to the actual sequence"
                );
                let (seqres, mapping) =
                    realign_template_to_query(&template_sequence, chain_id, mmcif, &mapping)
                        .map_err(ExtractError::Other)?;
                (
                    chain_id.to_string(),
                    seqres.to_string(),
                    mapping,
                    0,
                    Some(warning),
                )
            }
        };

    let chain = mmcif_chain_to_protein(mmcif, &chain_id).map_err(|err| {
        ExtractError::MissingData(format!(
            "could not get atom data ({pdb_id}_{chain_id}): {err:#}"
        ))
    })?;
    let ca = atom37_index("CA").unwrap_or(1);
    check_residue_distances(&chain.atom_positions, &chain.atom_mask, ca).map_err(|reason| {
        ExtractError::MissingData(format!(
            "could not get atom data ({pdb_id}_{chain_id}): {reason}"
        ))
    })?;

    let num_res = query_sequence.len();
    let template_letters = template_sequence.as_bytes();
    let mut sequence = vec![b'-'; num_res];
    let mut positions = vec![[[0.0f32; 3]; ATOM_TYPE_NUM]; num_res];
    let mut masks = vec![[0.0f32; ATOM_TYPE_NUM]; num_res];
    for (&query_index, &template_index) in &mapping {
        let structure_index = template_index + offset;
        let (Some(&letter), Some(position), Some(mask), true) = (
            template_letters.get(template_index),
            chain.atom_positions.get(structure_index),
            chain.atom_mask.get(structure_index),
            query_index < num_res,
        ) else {
            return Err(ExtractError::Other(format!(
                "{pdb_id}_{chain_id}: query residue {query_index} maps to template residue \
                 {structure_index}, outside the chain"
            )));
        };
        sequence[query_index] = letter;
        positions[query_index] = *position;
        masks[query_index] = *mask;
    }
    let atom_count: f32 = masks.iter().flatten().sum();
    if atom_count < MIN_ATOMS {
        let range = mapping.values().min().zip(mapping.values().max());
        return Err(ExtractError::MissingData(format!(
            "template all atom mask was all zeros: {pdb_id}_{chain_id}; residue range: {:?}",
            range.map(|(lo, hi)| (lo + offset, hi + offset))
        )));
    }
    let template = Template {
        domain_name: format!("{}_{chain_id}", pdb_id.to_ascii_lowercase()),
        sequence: String::from_utf8_lossy(&sequence).into_owned(),
        sum_probs,
        all_atom_positions: positions,
        all_atom_masks: masks,
    };
    Ok((template, warning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fasta::read_fasta;
    use crate::data::hhr::read_hhr;
    use crate::testing::shared_data;

    /// The OpenFold query, its HHsearch hits and the folder of their mmCIF files.
    fn openfold_query() -> Option<(String, Vec<TemplateHit>, PathBuf)> {
        let fasta = shared_data("openfold_mini/query/short.fasta")?;
        let hhr = shared_data("openfold_mini/query/pdb70_hits.hhr")?;
        let mmcif_dir = shared_data("openfold_mini/mmcif")?;
        let query = read_fasta(&fasta).unwrap().remove(0).sequence;
        Some((query, read_hhr(&hhr).unwrap(), mmcif_dir))
    }

    fn domain_names(result: &TemplateSearchResult) -> Vec<&str> {
        result
            .templates
            .iter()
            .map(|t| t.domain_name.as_str())
            .collect()
    }

    fn hit_named<'a>(hits: &'a [TemplateHit], prefix: &str) -> &'a TemplateHit {
        hits.iter().find(|h| h.name.starts_with(prefix)).unwrap()
    }

    /// Reference: DeepMind's `TemplateHitFeaturizer.get_templates` (alphafold 2.0.0 wheel, with
    /// Biopython) on the same query, hits and mmCIF folder, max_template_date 2100-01-01,
    /// max_hits 20, the 1HF9 hit removed (its mmCIF file is not in the folder, which makes
    /// AlphaFold abort). 5kc1 chains F and J have no observed atoms at the aligned residues.
    #[test]
    fn openfold_hits_give_alphafold_templates() {
        let Some((query, hits, mmcif_dir)) = openfold_query() else {
            return;
        };
        let featurizer = TemplateHitFeaturizer::new(&mmcif_dir, "2100-01-01", 20).unwrap();
        let result = featurizer.get_templates(&query, None, None, &hits).unwrap();
        assert_eq!(
            domain_names(&result),
            ["3u8v_A", "2crb_A", "4zey_A", "1psm_A", "3zee_A", "4i6p_A", "2q2k_A"]
        );
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        assert!(
            result.errors[0].starts_with("1hf9_B"),
            "{:?}",
            result.errors
        );
        assert_eq!(result.warnings.len(), 2, "{:?}", result.warnings);
        assert!(result
            .warnings
            .iter()
            .all(|w| w.starts_with("5kc1_") && w.contains("all zeros")));

        let expected_sequences = [
            "--------------THVGHGIKHLEDAIKHGEEGHVGVATKHAQEA---------------------------",
            "----------EEAISCHRKATTYLSEAMKL-------------------------------------------",
            "----------EEAISCHKKAAAYLSEAMKL-------------------------------------------",
            "----------EQAAKDAENASKEAEEAA---------------------------------------------",
            "---------------------------------------------------------QQAVTRYRKAVAKDP-",
            "--------------------------------------------------------IQQAVTRYRKAVAKDP-",
            "-------------------------------------------------------HIREALRRYIEEIGENP-",
        ];
        let expected_sum_probs = [15.8, 11.0, 10.8, 8.0, 7.4, 0.0, 0.0];
        let expected_atom_counts = [239.0, 157.0, 151.0, 129.0, 121.0, 129.0, 123.0];
        let expected_coordinate_sums = [
            768.108, 592.806, 2496.74, 6771.758, 4805.574, 3255.227, 10077.764,
        ];
        // First and last query residue with a template CA, and that CA's coordinates.
        let expected_ca = [
            (
                (14, [5.843, -14.659, 23.948]),
                (45, [2.925, -15.521, 12.389]),
            ),
            ((10, [0.236, -7.819, -4.784]), (29, [4.640, 21.369, -7.324])),
            (
                (10, [8.789, 6.259, -16.269]),
                (29, [13.130, 10.087, 12.756]),
            ),
            (
                (10, [2.563, 14.988, 12.604]),
                (27, [11.778, 33.151, 29.591]),
            ),
            (
                (57, [33.561, 20.222, -23.338]),
                (71, [37.334, 32.552, -16.278]),
            ),
            (
                (56, [17.123, 25.222, -0.502]),
                (71, [10.788, 4.681, -5.839]),
            ),
            (
                (55, [28.551, 20.556, 24.433]),
                (68, [34.446, 15.554, 43.685]),
            ),
        ];
        for (t, template) in result.templates.iter().enumerate() {
            assert_eq!(
                template.sequence, expected_sequences[t],
                "{}",
                template.domain_name
            );
            assert_eq!(template.sum_probs, expected_sum_probs[t]);
            let atoms: f32 = template.all_atom_masks.iter().flatten().sum();
            assert_eq!(atoms, expected_atom_counts[t], "{}", template.domain_name);
            let coordinate_sum: f64 = template
                .all_atom_positions
                .iter()
                .flatten()
                .flatten()
                .map(|&x| f64::from(x))
                .sum();
            assert!(
                (coordinate_sum - expected_coordinate_sums[t]).abs() < 0.05,
                "{}: {coordinate_sum}",
                template.domain_name
            );
            let observed: Vec<usize> = (0..query.len())
                .filter(|&i| template.all_atom_masks[i][1] > 0.5)
                .collect();
            let ((first, first_ca), (last, last_ca)) = expected_ca[t];
            assert_eq!((observed[0], *observed.last().unwrap()), (first, last));
            for (residue, ca) in [(first, first_ca), (last, last_ca)] {
                for (got, want) in template.all_atom_positions[residue][1].iter().zip(ca) {
                    assert!(
                        (got - want).abs() < 1e-3,
                        "{}: {got} vs {want}",
                        template.domain_name
                    );
                }
            }
            // Every query residue with atoms has a template letter.
            for (i, letter) in template.sequence.chars().enumerate() {
                let has_atoms = template.all_atom_masks[i].iter().any(|&m| m > 0.0);
                assert!(
                    !has_atoms || letter != '-',
                    "{} residue {i}",
                    template.domain_name
                );
            }
        }

        let features = result.to_feature_dict(query.len()).unwrap();
        assert_eq!(features["template_aatype"].shape, [7, 73, 22]);
        assert_eq!(
            features["template_all_atom_positions"].shape,
            [7, 73, 37, 3]
        );
        assert_eq!(features["template_all_atom_masks"].shape, [7, 73, 37]);
        assert_eq!(features["template_sum_probs"].shape, [7, 1]);
        let ArrayData::F32(aatype) = &features["template_aatype"].data else {
            panic!()
        };
        // Template 0, query residue 14 is T (HHblits id 16); residue 0 is a gap (21).
        assert_eq!(aatype[14 * 22 + 16], 1.0);
        assert_eq!(aatype[21], 1.0);
        assert_eq!(aatype.iter().sum::<f32>(), (7 * 73) as f32);
        let ArrayData::Bytes(names) = &features["template_domain_names"].data else {
            panic!()
        };
        assert_eq!(names[0], b"3u8v_A");
    }

    /// References: AlphaFold 2.0.0's `get_templates` as above with the stated arguments.
    #[test]
    fn date_cutoffs_query_pdb_code_and_max_hits() {
        let Some((query, hits, mmcif_dir)) = openfold_query() else {
            return;
        };
        let before_2010 = TemplateHitFeaturizer::new(&mmcif_dir, "2010-01-01", 20).unwrap();
        let result = before_2010
            .get_templates(&query, None, None, &hits)
            .unwrap();
        assert_eq!(domain_names(&result), ["2crb_A", "1psm_A", "2q2k_A"]);
        // Query released 2006-01-01: templates up to 2005-11-02; 2crb (2005-11-20) is too late.
        let query_date = ReleaseDate::parse("2006-01-01").unwrap();
        let result = before_2010
            .get_templates(&query, None, Some(query_date), &hits)
            .unwrap();
        assert_eq!(domain_names(&result), ["1psm_A"]);

        let two = TemplateHitFeaturizer::new(&mmcif_dir, "2100-01-01", 2).unwrap();
        let result = two
            .get_templates(&query, Some("3U8V"), None, &hits)
            .unwrap();
        assert_eq!(domain_names(&result), ["2crb_A", "4zey_A"]);
        let strict = two.clone().with_strict_error_check(true);
        let result = strict
            .get_templates(&query, Some("3U8V"), None, &hits)
            .unwrap();
        assert!(
            result.errors.iter().any(|e| e.starts_with("3u8v_A")),
            "{:?}",
            result.errors
        );
    }

    #[test]
    fn x_in_the_hit_matches_any_chain_residue() {
        // Reference: AlphaFold 2.0.0 on the 1PSM hit with its 4th residue replaced by X gives
        // the same template with X at query residue 13 and 129 atoms.
        let Some((query, hits, mmcif_dir)) = openfold_query() else {
            return;
        };
        let mut hit = hit_named(&hits, "1PSM_A").clone();
        hit.hit_sequence.replace_range(3..4, "X");
        let featurizer = TemplateHitFeaturizer::new(&mmcif_dir, "2100-01-01", 20).unwrap();
        let result = featurizer
            .get_templates(&query, None, None, &[hit])
            .unwrap();
        assert_eq!(
            result.templates[0].sequence,
            "----------EQAXKDAENASKEAEEAA---------------------------------------------"
        );
        assert_eq!(
            result.templates[0]
                .all_atom_masks
                .iter()
                .flatten()
                .sum::<f32>(),
            129.0
        );
    }

    #[test]
    fn hit_differing_from_the_chain_is_realigned() {
        // One substitution in the 3U8V hit (G -> W at its 6th residue) hides it from the exact
        // and X-wildcard searches; re-aligned to the SEQRES it maps every residue to the same
        // chain position as before, so the template equals the unmodified one (whose letters
        // are the SEQRES letters).
        let Some((query, hits, mmcif_dir)) = openfold_query() else {
            return;
        };
        let original = hit_named(&hits, "3U8V_A").clone();
        assert_eq!(&original.hit_sequence[5..6], "G");
        let mut mutated = original.clone();
        mutated.hit_sequence.replace_range(5..6, "W");
        let featurizer = TemplateHitFeaturizer::new(&mmcif_dir, "2100-01-01", 20).unwrap();
        let expected = featurizer
            .get_templates(&query, None, None, &[original])
            .unwrap();
        let realigned = featurizer
            .get_templates(&query, None, None, &[mutated])
            .unwrap();
        assert_eq!(realigned.templates, expected.templates);
        assert_eq!(realigned.warnings.len(), 1);
        assert!(
            realigned.warnings[0].contains("realigned"),
            "{:?}",
            realigned.warnings
        );

        // A hit sharing too little with the chain is rejected as an error.
        let mut unrelated = hit_named(&hits, "3U8V_A").clone();
        unrelated.hit_sequence = unrelated
            .hit_sequence
            .chars()
            .map(|c| if c == '-' { c } else { 'W' })
            .collect();
        let result = featurizer
            .get_templates(&query, None, None, &[unrelated])
            .unwrap();
        assert!(result.templates.is_empty());
        assert!(
            result.errors[0].contains("insufficient similarity"),
            "{:?}",
            result.errors
        );
    }

    #[test]
    fn no_templates_give_empty_arrays_of_the_query_length() {
        let features = TemplateSearchResult::default().to_feature_dict(5).unwrap();
        assert_eq!(features["template_aatype"].shape, [0, 5, 22]);
        assert_eq!(features["template_all_atom_positions"].shape, [0, 5, 37, 3]);
        assert_eq!(features["template_sequence"].shape, [0]);
    }

    #[test]
    fn pdb_id_and_chain_from_hit_names() {
        assert_eq!(
            pdb_id_and_chain("3U8V_A Metal-binding protein").unwrap(),
            ("3u8v".to_string(), "A".to_string())
        );
        assert_eq!(pdb_id_and_chain("1abc_AB1").unwrap().1, "AB1");
        assert_eq!(pdb_id_and_chain("7xyz_.").unwrap().1, ".");
        for bad in ["UniRef90_A0A", "3U8V A", "3U8_A", "", "3U8V_"] {
            assert!(pdb_id_and_chain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn obsolete_entries_map_to_their_replacements() {
        // Lines in the format of the PDB's obsolete.dat.
        let text = " OBSLTE    31-JUL-94 116L     216L\nOBSLTE    29-FEB-96 1BAD\nHEADER x\n";
        let map = parse_obsolete(text);
        assert_eq!(map.get("116l").map(String::as_str), Some("216l"));
        assert_eq!(map.len(), 1);
    }

    fn hand_made_hit(
        query: &str,
        hit_sequence: &str,
        indices_query: Vec<i32>,
        indices_hit: Vec<i32>,
    ) -> TemplateHit {
        TemplateHit {
            index: 1,
            name: "1abc_A".into(),
            aligned_cols: query.len(),
            sum_probs: 1.0,
            query: query.into(),
            hit_sequence: hit_sequence.into(),
            indices_query,
            indices_hit,
        }
    }

    #[test]
    fn query_to_hit_mapping_skips_gaps_and_shifts_to_the_query() {
        // Query MKACDEFG. The hit aligns query A C D - E F to template A C - G E F: D faces a
        // template gap and G a query gap, so (template indices from 0) A->0, C->1, E->3, F->4,
        // shifted by the segment's offset 2 in the query.
        let hit = hand_made_hit(
            "ACD-EF",
            "AC-GEF",
            vec![2, 3, 4, -1, 5, 6],
            vec![10, 11, -1, 12, 13, 14],
        );
        let mapping = query_to_hit_mapping(&hit, "MKACDEFG").unwrap();
        let pairs: Vec<(usize, usize)> = mapping.into_iter().collect();
        assert_eq!(pairs, [(2, 0), (3, 1), (5, 3), (6, 4)]);
        let elsewhere = query_to_hit_mapping(&hit, "MKVVVV");
        assert!(elsewhere.is_err());
    }

    #[test]
    fn prefilter_rejects_short_duplicate_and_weakly_aligned_hits() {
        let query = "MKACDEFGHIKLMNPQRSTV";
        let hit = |seq: &str, aligned_cols: usize| TemplateHit {
            aligned_cols,
            ..hand_made_hit(seq, seq, vec![0; seq.len()], vec![0; seq.len()])
        };
        assert!(prefilter(&hit("ACDEFGHIKLMN", 12), "1abc", query, None).is_ok());
        // aligned_cols / len(query) = 2 / 20 <= 0.1.
        assert!(prefilter(&hit("ACDEFGHIKLMN", 2), "1abc", query, None).is_err());
        // Fewer than 10 residues.
        assert!(prefilter(&hit("ACDEFGHIK", 9), "1abc", query, None).is_err());
        // The whole query: an exact subsequence longer than 95 % of it.
        let duplicate = prefilter(&hit(query, 20), "1abc", query, None).unwrap_err();
        assert!(duplicate.is_strict_error);
        let same_entry = prefilter(&hit("ACDEFGHIKLMN", 12), "1abc", query, Some("1ABC"));
        assert!(same_entry.is_err());
    }
}
