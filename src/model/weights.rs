//! Parameter import from DeepMind's `params_model_*.npz` and own checkpoints.
//!
//! The VarStore tree mirrors AlphaFold's haiku module tree (constructors take the haiku scope
//! names), so the translation to haiku keys is one rule plus one table: a variable
//! `a.b.c.param` is the array `alphafold/alphafold_iteration/a/b/c//param`, except under the
//! layer stacks of [`LAYER_STACKS`], whose blocks are numbered in the VarStore
//! (`evoformer.evoformer_iteration.7.…`) but stacked along a leading layer axis in the file.
//! No array needs transposing: every module stores its weights in haiku's layout.
//! Missing, unused or mis-shaped arrays are errors naming the array.
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tch::{nn, Tensor};

/// Prefix of every haiku key of the AlphaFold model.
pub const HAIKU_ROOT: &str = "alphafold/alphafold_iteration";

/// Layer stacks: the VarStore scope holding numbered blocks and the haiku scope of the stacked
/// arrays (AlphaFold's `layer_stack`; the template stack's arrays sit in haiku's
/// `__layer_stack_no_state` sub-scope).
pub const LAYER_STACKS: [(&str, &str); 3] = [
    ("evoformer.evoformer_iteration", "evoformer/evoformer_iteration"),
    ("evoformer.extra_msa_stack", "evoformer/extra_msa_stack"),
    (
        "evoformer.template_embedding.single_template_embedding.template_pair_stack",
        "evoformer/template_embedding/single_template_embedding/template_pair_stack/__layer_stack_no_state",
    ),
];

/// How a VarStore variable is stored in a haiku parameter file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamKind {
    /// The array has the variable's shape.
    Plain,
    /// The variable is block `layer` of an array stacked along its first axis.
    Stacked { layer: i64 },
}

/// Where one VarStore variable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub haiku_key: String,
    pub kind: ParamKind,
}

/// The haiku key and kind for a VarStore variable name (`.`-separated).
pub fn translate(var_name: &str) -> Result<Translation> {
    let (module, param) =
        var_name.rsplit_once('.').with_context(|| format!("variable '{var_name}' has no module scope"))?;
    for (scope, haiku_scope) in LAYER_STACKS {
        if let Some(rest) = module.strip_prefix(scope).and_then(|r| r.strip_prefix('.')) {
            let (layer, inner) = rest.split_once('.').unwrap_or((rest, ""));
            let layer: i64 = layer.parse().with_context(|| {
                format!("variable '{var_name}': '{layer}' is not a layer number of {scope}")
            })?;
            let inner = inner.replace('.', "/");
            let module_path =
                if inner.is_empty() { haiku_scope.to_string() } else { format!("{haiku_scope}/{inner}") };
            return Ok(Translation {
                haiku_key: format!("{HAIKU_ROOT}/{module_path}//{param}"),
                kind: ParamKind::Stacked { layer },
            });
        }
    }
    Ok(Translation {
        haiku_key: format!("{HAIKU_ROOT}/{}//{param}", module.replace('.', "/")),
        kind: ParamKind::Plain,
    })
}

/// Reads an `.npz` parameter file into arrays by key.
pub fn read_haiku_npz(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let arrays =
        Tensor::read_npz(path).with_context(|| format!("reading parameters from {}", path.display()))?;
    Ok(arrays.into_iter().collect())
}

/// Copies haiku arrays into every variable of `vs`. Errors name each missing array, each array
/// no variable uses, each shape mismatch, and stacks whose depth differs from the model's.
pub fn load_haiku_params(vs: &nn::VarStore, arrays: &BTreeMap<String, Tensor>) -> Result<()> {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut stack_depth: BTreeMap<String, i64> = BTreeMap::new();
    let mut assignments = Vec::new();
    for (name, var) in vs.variables() {
        let t = translate(&name)?;
        let Some(array) = arrays.get(&t.haiku_key) else {
            problems.push(format!("missing array '{}' (for variable '{name}')", t.haiku_key));
            continue;
        };
        used.insert(t.haiku_key.clone());
        let value = match t.kind {
            ParamKind::Plain => array.shallow_clone(),
            ParamKind::Stacked { layer } => {
                let depth = stack_depth.entry(t.haiku_key.clone()).or_insert(0);
                *depth = (*depth).max(layer + 1);
                if array.dim() == 0 || layer >= array.size()[0] {
                    problems.push(format!(
                        "array '{}' of shape {:?} has no layer {layer} (for variable '{name}')",
                        t.haiku_key,
                        array.size()
                    ));
                    continue;
                }
                array.get(layer)
            }
        };
        if value.size() != var.size() {
            problems.push(format!(
                "array '{}' has shape {:?} but variable '{name}' needs {:?}",
                t.haiku_key,
                value.size(),
                var.size()
            ));
            continue;
        }
        assignments.push((var, value));
    }
    for (key, depth) in &stack_depth {
        let layers = arrays[key].size()[0];
        if layers != *depth {
            problems.push(format!("array '{key}' stacks {layers} layers but the model has {depth}"));
        }
    }
    for key in arrays.keys().filter(|k| !used.contains(*k)) {
        problems.push(format!("unused array '{key}' (no variable of this model takes it)"));
    }
    if !problems.is_empty() {
        bail!("{} parameter problem(s):\n  {}", problems.len(), problems.join("\n  "));
    }
    tch::no_grad(|| {
        for (mut var, value) in assignments {
            var.copy_(&value.to_kind(var.kind()).to_device(var.device()));
        }
    });
    Ok(())
}

/// [`read_haiku_npz`] then [`load_haiku_params`], naming the file in errors.
pub fn import_alphafold_params(vs: &nn::VarStore, path: &Path) -> Result<()> {
    let arrays = read_haiku_npz(path)?;
    load_haiku_params(vs, &arrays).with_context(|| format!("importing {}", path.display()))
}

/// Saves all variables; the format follows the extension (`.safetensors` recommended).
pub fn save_checkpoint(vs: &nn::VarStore, path: &Path) -> Result<()> {
    vs.save(path).with_context(|| format!("saving checkpoint {}", path.display()))
}

/// Loads a checkpoint written by [`save_checkpoint`]; fails on any missing variable.
pub fn load_checkpoint(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    vs.load(path).with_context(|| format!("loading checkpoint {}", path.display()))
}

/// Number of scalar parameters in a VarStore.
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.variables().values().map(|t| t.numel() as i64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ModelConfig;
    use crate::model::evoformer::EvoformerStack;
    use tch::{Device, Kind};

    #[test]
    fn translates_plain_and_stacked_names() {
        let t =
            translate("evoformer.evoformer_iteration.7.msa_row_attention_with_pair_bias.attention.query_w")
                .unwrap();
        assert_eq!(
            t.haiku_key,
            "alphafold/alphafold_iteration/evoformer/evoformer_iteration/msa_row_attention_with_pair_bias/attention//query_w"
        );
        assert_eq!(t.kind, ParamKind::Stacked { layer: 7 });
        let t = translate("evoformer.template_embedding.single_template_embedding.template_pair_stack.1.pair_transition.transition1.weights").unwrap();
        assert!(t
            .haiku_key
            .ends_with("template_pair_stack/__layer_stack_no_state/pair_transition/transition1//weights"));
        let t = translate("predicted_lddt_head.act_0.bias").unwrap();
        assert_eq!(t.haiku_key, "alphafold/alphafold_iteration/predicted_lddt_head/act_0//bias");
        assert_eq!(t.kind, ParamKind::Plain);
    }

    fn tiny_stack(vs: &nn::VarStore) -> EvoformerStack {
        let cfg = ModelConfig::tiny();
        let e = &cfg.embeddings_and_evoformer;
        EvoformerStack::new(
            vs.root() / "evoformer" / "evoformer_iteration",
            2,
            &e.evoformer,
            e.msa_channel,
            e.pair_channel,
            false,
            &cfg.global_config,
        )
    }

    /// Exports a stack in haiku layout by hand, re-imports it into a fresh store, and checks
    /// the values and the error messages for missing, unused and mis-shaped arrays.
    #[test]
    fn import_round_trip_and_errors() {
        let source = nn::VarStore::new(Device::Cpu);
        let _stack = tiny_stack(&source);
        let mut grouped: BTreeMap<String, Vec<(i64, Tensor)>> = BTreeMap::new();
        for (name, var) in source.variables() {
            let t = translate(&name).unwrap();
            let ParamKind::Stacked { layer } = t.kind else { panic!("{name} should be stacked") };
            grouped.entry(t.haiku_key).or_default().push((layer, var.randn_like()));
        }
        let mut arrays: BTreeMap<String, Tensor> = grouped
            .into_iter()
            .map(|(k, mut layers)| {
                layers.sort_by_key(|(l, _)| *l);
                let ts: Vec<Tensor> = layers.into_iter().map(|(_, t)| t).collect();
                (k, Tensor::stack(&ts, 0))
            })
            .collect();
        let target = nn::VarStore::new(Device::Cpu);
        let _stack2 = tiny_stack(&target);
        load_haiku_params(&target, &arrays).unwrap();
        let key = "alphafold/alphafold_iteration/evoformer/evoformer_iteration/outer_product_mean//output_w";
        let loaded = &target.variables()["evoformer.evoformer_iteration.1.outer_product_mean.output_w"];
        assert!(loaded.equal(&arrays[key].get(1)));

        arrays.insert(
            "alphafold/alphafold_iteration/bogus//weights".into(),
            Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        );
        let removed = arrays.remove(key).unwrap();
        let err = load_haiku_params(&target, &arrays).unwrap_err().to_string();
        assert!(err.contains(&format!("missing array '{key}'")), "{err}");
        assert!(err.contains("unused array 'alphafold/alphafold_iteration/bogus//weights'"), "{err}");
        arrays.insert(key.into(), removed.narrow(-1, 0, 1));
        let err = load_haiku_params(&target, &arrays).unwrap_err().to_string();
        assert!(err.contains(&format!("array '{key}' has shape")), "{err}");
    }

    #[test]
    fn safetensors_checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        let a = nn::VarStore::new(Device::Cpu);
        let _sa = tiny_stack(&a);
        save_checkpoint(&a, &path).unwrap();
        let mut b = nn::VarStore::new(Device::Cpu);
        let _sb = tiny_stack(&b);
        load_checkpoint(&mut b, &path).unwrap();
        let name = "evoformer.evoformer_iteration.0.msa_transition.transition1.weights";
        assert!(a.variables()[name].equal(&b.variables()[name]));
        assert_eq!(parameter_count(&a), parameter_count(&b));
    }
}
