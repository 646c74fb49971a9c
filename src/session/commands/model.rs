//! `model PRESET [key=value ...]` chooses the network's configuration: one of the presets of
//! [`ModelConfig::preset`] (DeepMind's `model_1`..`model_5[_ptm]`, HelixFold's
//! `initial_training` and `finetune`, and `tiny` for tests) with typed overrides of its common
//! sizes. `precision` and `runtime` set how the network runs ([`RuntimeOptions`]) without
//! touching its parameters.
use crate::model::config::{AttentionConfig, ModelConfig, OuterProductMeanPosition, Precision, PRESET_NAMES};
use crate::session::args::{ArgKind, ArgSpec, Args, Value};
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, ensure, Result};

const fn size(name: &'static str, min: i64, max: i64, help: &'static str) -> ArgSpec {
    ArgSpec { name, kind: ArgKind::Int { min, max }, positional: false, required: false, help }
}

/// The arguments of `model`: the preset, then every overridable field.
pub const MODEL_ARGS: &[ArgSpec] = &[
    ArgSpec { name: "preset", kind: ArgKind::Choice(&PRESET_NAMES), positional: true, required: true, help: "the configuration to start from" },
    size("evoformer_num_block", 1, 96, "Evoformer blocks (48 in AlphaFold)"),
    size("extra_msa_num_block", 1, 16, "extra-MSA stack blocks (4)"),
    size("structure_module_num_layer", 1, 16, "structure-module layers, weights shared (8)"),
    size("num_recycle", 0, 20, "recycling iterations `infer` runs by default (3)"),
    size("msa_channel", 1, 4096, "MSA representation channels c_m (256); a multiple of the MSA attention heads"),
    size("pair_channel", 1, 4096, "pair representation channels c_z (128); a multiple of the triangle attention heads"),
    size("seq_channel", 1, 4096, "single representation channels c_s (384)"),
    size("extra_msa_channel", 1, 4096, "extra-MSA channels c_e (64); a multiple of the MSA attention heads"),
    size("crop_size", 1, 100_000, "residues a training example is cropped and padded to (the preset's crop, e.g. 256)"),
    ArgSpec { name: "templates", kind: ArgKind::Bool, positional: false, required: false, help: "embed templates (the batch must then carry template features)" },
    ArgSpec { name: "outer_product_mean", kind: ArgKind::Choice(&OuterProductMeanPosition::NAMES), positional: false, required: false, help: "where each Evoformer block adds the outer product mean: origin (AlphaFold), first (multimer), end (HelixFold's parallel Evoformer, for branch parallelism)" },
];

/// Sets `key` of `config` to `value`.
fn apply(config: &mut ModelConfig, key: &str, value: &Value) -> Result<()> {
    let e = &mut config.embeddings_and_evoformer;
    match (key, value) {
        ("evoformer_num_block", Value::Int(n)) => e.evoformer_num_block = *n,
        ("extra_msa_num_block", Value::Int(n)) => e.extra_msa_stack_num_block = *n,
        ("structure_module_num_layer", Value::Int(n)) => config.heads.structure_module.num_layer = *n,
        ("num_recycle", Value::Int(n)) => {
            config.num_recycle = *n;
            config.data.num_recycle = *n;
        }
        ("msa_channel", Value::Int(n)) => e.msa_channel = *n,
        ("pair_channel", Value::Int(n)) => e.pair_channel = *n,
        ("seq_channel", Value::Int(n)) => e.seq_channel = *n,
        ("extra_msa_channel", Value::Int(n)) => e.extra_msa_channel = *n,
        ("crop_size", Value::Int(n)) => config.data.crop_size = Some(*n),
        ("templates", Value::Bool(on)) => {
            e.template.enabled = *on;
            e.template.embed_torsion_angles = *on;
            config.data.use_templates = *on;
        }
        ("outer_product_mean", Value::Text(name)) => {
            e.evoformer.outer_product_mean.position = OuterProductMeanPosition::from_name(name)
                .ok_or_else(|| anyhow!("outer_product_mean={name}: expected one of {}", OuterProductMeanPosition::NAMES.join(", ")))?;
        }
        (key, value) => bail!("model: cannot set {key} to {value:?}"),
    }
    Ok(())
}

/// The current value of override `key` in `config`, for `show config`.
fn value_of(config: &ModelConfig, key: &str) -> Option<String> {
    let e = &config.embeddings_and_evoformer;
    Some(match key {
        "evoformer_num_block" => e.evoformer_num_block.to_string(),
        "extra_msa_num_block" => e.extra_msa_stack_num_block.to_string(),
        "structure_module_num_layer" => config.heads.structure_module.num_layer.to_string(),
        "num_recycle" => config.num_recycle.to_string(),
        "msa_channel" => e.msa_channel.to_string(),
        "pair_channel" => e.pair_channel.to_string(),
        "seq_channel" => e.seq_channel.to_string(),
        "extra_msa_channel" => e.extra_msa_channel.to_string(),
        "crop_size" => config.data.crop_size.map_or_else(|| "off".to_string(), |n| n.to_string()),
        "templates" => e.template.enabled.to_string(),
        "outer_product_mean" => e.evoformer.outer_product_mean.position.name().to_string(),
        _ => return None,
    })
}

/// Attention splits its query channels evenly over its heads (`key_dim = channels / num_head`,
/// AlphaFold's `Attention`), so each channel count must be a positive multiple of the heads of
/// every attention reading it.
fn check_heads(config: &ModelConfig) -> Result<()> {
    let e = &config.embeddings_and_evoformer;
    let ev = &e.evoformer;
    let readers: [(&str, i64, &str, &AttentionConfig); 5] = [
        ("msa_channel", e.msa_channel, "MSA row attention", &ev.msa_row_attention_with_pair_bias),
        ("msa_channel", e.msa_channel, "MSA column attention", &ev.msa_column_attention),
        ("extra_msa_channel", e.extra_msa_channel, "MSA row attention", &ev.msa_row_attention_with_pair_bias),
        ("pair_channel", e.pair_channel, "triangle attention (starting node)", &ev.triangle_attention_starting_node),
        ("pair_channel", e.pair_channel, "triangle attention (ending node)", &ev.triangle_attention_ending_node),
    ];
    for (key, channels, what, attention) in readers {
        let heads = attention.num_head;
        ensure!(
            attention.key_dim.is_some() || channels % heads == 0,
            "{key}={channels} is not a multiple of the {heads} heads of the {what}"
        );
    }
    Ok(())
}

/// `(setting, value)` rows of a configuration for `show config`.
pub fn config_rows(config: &ModelConfig) -> Vec<[String; 2]> {
    let mut rows = vec![["model".to_string(), config.name.clone()]];
    rows.extend(
        MODEL_ARGS.iter().filter_map(|arg| Some([arg.name.to_string(), value_of(config, arg.name)?])),
    );
    rows.push(["pae_head".to_string(), config.heads.predicted_aligned_error.is_some().to_string()]);
    rows
}

pub fn model(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let preset = args.text("preset").ok_or_else(|| anyhow!("missing preset"))?;
    let mut config = ModelConfig::preset(preset)?;
    for arg in &MODEL_ARGS[1..] {
        if let Some(value) = args.get(arg.name) {
            apply(&mut config, arg.name, value)?;
        }
    }
    check_heads(&config)?;
    let state = &mut session.model;
    let changed = state.config.as_ref() != Some(&config);
    let dropped = changed && state.network.take().is_some();
    if changed {
        state.training = None;
    }
    state.config = Some(config);
    let mut outputs = vec![Output::Text(format!("model {preset}"))];
    if dropped {
        outputs.push(Output::Warning("the configuration changed: parameters cleared (`params init` or `params load FILE`)".into()));
    }
    Ok(outputs)
}

/// `(setting, value)` rows of the runtime options.
pub fn runtime_rows(session: &Session) -> Vec<[String; 2]> {
    let runtime = &session.model.runtime;
    vec![
        ["precision".into(), precision_name(runtime.precision).into()],
        ["chunk_size".into(), runtime.chunk_size.map_or_else(|| "off".to_string(), |c| c.to_string())],
        ["fused_attention".into(), runtime.fused_attention.to_string()],
        ["recompute".into(), runtime.recompute.to_string()],
    ]
}

fn precision_name(precision: Precision) -> &'static str {
    match precision {
        Precision::Fp32 => "fp32",
        Precision::Bf16 => "bf16",
    }
}

fn runtime_table(session: &Session) -> Output {
    Output::table(&["setting", "value"], runtime_rows(session).into_iter().map(Vec::from).collect())
}

pub fn precision(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    match args.text("mode") {
        Some("fp32") => session.model.runtime.precision = Precision::Fp32,
        Some("bf16") => session.model.runtime.precision = Precision::Bf16,
        Some(other) => bail!("unknown precision '{other}'"),
        None => {}
    }
    Ok(vec![Output::Text(format!("precision: {}", precision_name(session.model.runtime.precision)))])
}

pub fn runtime(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let mut updated = session.model.runtime;
    if let Some(rows) = args.int("chunk_size") {
        updated.chunk_size = (rows > 0).then_some(rows);
    }
    if let Some(fused) = args.flag("fused_attention") {
        updated.fused_attention = fused;
    }
    if let Some(recompute) = args.flag("recompute") {
        updated.recompute = recompute;
    }
    session.model.runtime = updated;
    Ok(vec![runtime_table(session)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_override_key_is_applied_and_shown() {
        let config = ModelConfig::tiny();
        for arg in &MODEL_ARGS[1..] {
            assert!(value_of(&config, arg.name).is_some(), "{} is not shown", arg.name);
            let value = match arg.kind {
                ArgKind::Bool => Value::Bool(false),
                ArgKind::Choice(words) => Value::Text(words[words.len() - 1].to_string()),
                _ => Value::Int(4),
            };
            let mut changed = config.clone();
            apply(&mut changed, arg.name, &value).unwrap();
            let expected = match &value {
                Value::Bool(b) => b.to_string(),
                Value::Text(word) => word.clone(),
                _ => "4".to_string(),
            };
            assert_eq!(value_of(&changed, arg.name).unwrap(), expected, "{}", arg.name);
        }
    }

    #[test]
    fn model_sets_overrides_and_rejects_bad_ones_without_change() {
        let mut session = Session::new();
        session.execute("model tiny evoformer_num_block=1 templates=false").unwrap();
        let config = session.model().config.clone().unwrap();
        assert_eq!(config.embeddings_and_evoformer.evoformer_num_block, 1);
        assert!(!config.embeddings_and_evoformer.template.enabled);
        for (line, cause) in [
            ("model tiny colour=red", "unknown key 'colour'; valid keys: preset, evoformer_num_block"),
            ("model tiny msa_channel=15", "msa_channel=15 is not a multiple of the 2 heads"),
            ("model model_7", "expected one of model_1"),
            ("model tiny evoformer_num_block=0", "evoformer_num_block=0: expected integer 1..=96"),
        ] {
            let (_, error) = session.execute(line).unwrap_err();
            assert!(error.to_string().contains(cause), "{line}: {error}");
            assert_eq!(session.model().config.as_ref(), Some(&config), "{line} changed the model");
        }
        let shown = session.execute("show config").unwrap()[0].to_text();
        assert!(shown.contains("evoformer_num_block") && shown.contains("templates"), "{shown}");
        let (_, presets) = crate::session::completion::complete("model model_5", 13);
        assert_eq!(presets, ["model_5", "model_5_ptm"]);
        let (_, keys) = crate::session::completion::complete("model tiny evo", 14);
        assert_eq!(keys, ["evoformer_num_block="]);
    }

    #[test]
    fn a_changed_configuration_clears_the_parameters_and_an_unchanged_one_keeps_them() {
        let mut session = Session::new();
        session.execute("model tiny; params init").unwrap();
        let outputs = session.execute("model tiny").unwrap();
        assert_eq!(outputs.len(), 1, "{outputs:?}");
        assert!(session.model().network.is_some());
        let outputs = session.execute("model tiny num_recycle=2").unwrap();
        assert!(outputs[1].to_text().contains("parameters cleared"), "{outputs:?}");
        assert!(session.model().network.is_none());
    }

    #[test]
    fn runtime_knobs_change_only_what_is_given() {
        let mut session = Session::new();
        session.execute("precision bf16; runtime chunk_size=64").unwrap();
        let runtime = session.model().runtime;
        assert_eq!((runtime.precision, runtime.chunk_size, runtime.fused_attention), (Precision::Bf16, Some(64), false));
        session.execute("runtime chunk_size=0 fused_attention=true").unwrap();
        assert_eq!(session.model().runtime.chunk_size, None);
        assert!(session.model().runtime.fused_attention);
        assert!(session.execute("precision fp16").is_err());
        assert_eq!(session.model().runtime.precision, Precision::Bf16);
    }
}
