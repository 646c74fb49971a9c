//! The one command table: every command's name, arguments, help and handler. The parser,
//! `help`, completion and `docs/commands.md` are all generated from it.
use super::args::{ArgKind, ArgSpec, Args};
use super::commands;
use super::context::Context;
use super::output::Output;
use super::Session;
use anyhow::Result;

/// A command of the language.
pub struct CommandSpec {
    pub name: &'static str,
    /// One line for `help`'s list.
    pub summary: &'static str,
    /// Paragraphs for `help NAME` and the docs.
    pub details: &'static str,
    pub args: &'static [ArgSpec],
    pub examples: &'static [&'static str],
    pub run: fn(&mut Session, &Args, &mut Context) -> Result<Vec<Output>>,
}

impl CommandSpec {
    /// `name <positional> [key=value] ...` as shown in help.
    pub fn usage(&self) -> String {
        let mut parts = vec![self.name.to_string()];
        for arg in self.args {
            let shown = if arg.positional {
                format!("<{}>", arg.name)
            } else {
                format!("{}=<{}>", arg.name, arg.kind.describe())
            };
            parts.push(if arg.required { shown } else { format!("[{shown}]") });
        }
        parts.join(" ")
    }

    /// The full help text of this command.
    pub fn help_text(&self) -> String {
        let mut text = format!("{}\n  {}\n", self.usage(), self.summary);
        if !self.details.is_empty() {
            text.push('\n');
            for line in self.details.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if !self.args.is_empty() {
            text.push_str("\narguments:\n");
            for arg in self.args {
                let required = if arg.required { ", required" } else { "" };
                text.push_str(&format!(
                    "  {:<12} {} ({}{})\n",
                    arg.name,
                    arg.help,
                    arg.kind.describe(),
                    required
                ));
            }
        }
        if !self.examples.is_empty() {
            text.push_str("\nexamples:\n");
            for example in self.examples {
                text.push_str(&format!("  {example}\n"));
            }
        }
        text.trim_end().to_string()
    }
}

/// Finds a command by exact name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The Markdown reference of every command (`docs/commands.md`).
pub fn markdown_reference() -> String {
    let mut md = String::from(
        "# Command reference\n\nGenerated from the command table (`src/session/table.rs`); a test keeps it \
         current. The REPL, batch mode (`helixfold run`, \
         `helixfold -c`) and the Jupyter kernel all accept these commands. Arguments are \
         positional or `key=value`; quote paths with spaces; `;` separates commands.\n",
    );
    for command in COMMANDS {
        md.push_str(&format!("\n## `{}`\n\n{}\n\n```text\n{}\n```\n", command.name, command.summary, command.help_text()));
    }
    md
}

const fn flag(name: &'static str, help: &'static str) -> ArgSpec {
    ArgSpec { name, kind: ArgKind::Bool, positional: false, required: false, help }
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        summary: "List the commands, or show one command's arguments and examples.",
        details: "",
        args: &[ArgSpec {
            name: "command",
            kind: ArgKind::Text,
            positional: true,
            required: false,
            help: "the command to describe",
        }],
        examples: &["help", "help load"],
        run: commands::general::help,
    },
    CommandSpec {
        name: "echo",
        summary: "Print text (to stdout, or to stderr with stream=stderr).",
        details: "Useful in scripts to label output.",
        args: &[
            ArgSpec { name: "text", kind: ArgKind::Text, positional: true, required: true, help: "what to print" },
            ArgSpec {
                name: "stream",
                kind: ArgKind::Choice(&["stdout", "stderr"]),
                positional: false,
                required: false,
                help: "where to print",
            },
        ],
        examples: &["echo \"hello, world\"", "echo oops stream=stderr"],
        run: commands::general::echo,
    },
    CommandSpec {
        name: "device",
        summary: "Show or set the compute device (cpu, cuda, cuda:N).",
        details: "CUDA needs a GPU and the full libtorch (TORCH_VARIANT=cuda); the session keeps its device when the switch fails.",
        args: &[ArgSpec { name: "name", kind: ArgKind::Text, positional: true, required: false, help: "cpu, cuda or cuda:N" }],
        examples: &["device", "device cpu"],
        run: commands::general::device,
    },
    CommandSpec {
        name: "threads",
        summary: "Show or set the number of CPU threads libtorch uses.",
        details: "",
        args: &[ArgSpec {
            name: "count",
            kind: ArgKind::Int { min: 1, max: 1024 },
            positional: true,
            required: false,
            help: "intra-op threads",
        }],
        examples: &["threads", "threads 2"],
        run: commands::general::threads,
    },
    CommandSpec {
        name: "load",
        summary: "Load a sequence, MSA, template hits, structure or PAE file, or a training set (a folder), into the session.",
        details: "The file type comes from the extension (.fasta/.fa, .a3m, .sto, .hhr, .pdb, .cif, .json; a trailing .gz is read transparently) unless kind= names it.\n\
                  fasta: the query sequence (exactly one record); a3m/sto: an MSA stored under name= (default: the file name), its columns must match the sequence;\n\
                  hhr: HHsearch template hits; pdb: every chain, or the one named by chain=; cif: one protein chain (chain= when the file has several);\n\
                  pae: an AlphaFold DB PAE JSON attached to the loaded structure name=.\n\
                  dataset (any folder): a training set for `train`, in OpenFold's layout (alignments/, mmcif/) or HelixFold's (features/, mmcif/, protein_clust/*.list;\n\
                  or its distillation set); clusters= names the cluster list (default: OpenFold: one cluster per chain; HelixFold: the only *.list).\n\
                  Loading again under the same name replaces the earlier one.",
        args: &[
            ArgSpec { name: "file", kind: ArgKind::Path, positional: true, required: true, help: "the file to read" },
            ArgSpec {
                name: "kind",
                kind: ArgKind::Choice(commands::load::KINDS),
                positional: false,
                required: false,
                help: "the file type, when the extension does not tell",
            },
            ArgSpec { name: "name", kind: ArgKind::Text, positional: false, required: false, help: "the name to keep an MSA or structure under (PAE: the structure it belongs to)" },
            ArgSpec { name: "chain", kind: ArgKind::Text, positional: false, required: false, help: "the chain of a structure file to keep" },
            ArgSpec { name: "clusters", kind: ArgKind::Path, positional: false, required: false, help: "a training set's cluster list (one cluster of chain ids per line)" },
        ],
        examples: &[
            "load query.fasta",
            "load uniref90.sto name=uniref90",
            "load examples/data/1a8o.pdb name=native chain=A",
            "load pae.json name=model",
            "load ../shared/data/openfold_mini",
        ],
        run: commands::load::load,
    },
    CommandSpec {
        name: "show",
        summary: "Show what is loaded (inputs, batch), the settings (config), the parameters, the prediction's outputs, the training run, the parallel layout, memory or timing as a table.",
        details: "inputs: the sequence, each MSA with its depth, template hits, structures with their lengths and files, and the batch.\n\
                  batch: every feature of the processed batch (`features`) with its shape and type.\n\
                  config: device, threads, the data settings of `data`, the model and its overrides, the parameters' source and the runtime options.\n\
                  params: parameter tensors and counts per top-level module (AlphaFold's haiku scopes).\n\
                  outputs: the last prediction's output arrays by AlphaFold's names, with shapes and types.\n\
                  training: the training run's steps, losses and settings.\n\
                  parallel: the layout set by `parallel`, and each rank's coordinates, host, process id, device and threads.\n\
                  memory: the process's resident memory (now and peak), host memory available, CUDA memory in use, and what the parameters,\n\
                  the training run, the batch and the last outputs take.\n\
                  timing: the wall-clock time of the last commands (last=N, default 20) and the total per command.",
        args: &[
            ArgSpec {
                name: "what",
                kind: ArgKind::Choice(&["inputs", "batch", "config", "params", "outputs", "parallel", "training", "memory", "timing"]),
                positional: true,
                required: true,
                help: "what to show",
            },
            ArgSpec { name: "last", kind: ArgKind::Int { min: 1, max: 100_000 }, positional: false, required: false, help: "timing: how many commands to list" },
        ],
        examples: &["show inputs", "show batch", "show config", "show params", "show outputs", "show training", "show memory", "show timing last=5"],
        run: commands::show::show,
    },
    CommandSpec {
        name: "features",
        summary: "Build the model's processed batch from the loaded inputs or a feature file, and summarise it.",
        details: "Sources: a feature file (AlphaFold's features.pkl[.gz] or .npz: raw features are processed, a processed batch is kept as is);\n\
                  from=NAME, a loaded structure's sequence alone (single-sequence mode); otherwise the loaded FASTA with its MSAs.\n\
                  MSA depth, extra MSA and seed come from `data`; the rest from the AlphaFold preset (Jumper et al. (2021) Suppl. 1.2).",
        args: &[
            ArgSpec { name: "file", kind: ArgKind::Path, positional: true, required: false, help: "features.pkl[.gz] or .npz" },
            ArgSpec { name: "from", kind: ArgKind::Text, positional: false, required: false, help: "a loaded structure whose sequence to use" },
            ArgSpec {
                name: "preset",
                kind: ArgKind::Choice(&["model_1", "model_2", "model_3", "model_4", "model_5", "model_1_ptm", "model_2_ptm", "model_3_ptm", "model_4_ptm", "model_5_ptm"]),
                positional: false,
                required: false,
                help: "AlphaFold model whose data settings to use (default model_1)",
            },
            ArgSpec { name: "recycles", kind: ArgKind::Int { min: 0, max: 20 }, positional: false, required: false, help: "recycling iterations (copies of the batch - 1)" },
        ],
        examples: &["features from=1a8o recycles=0", "features ../shared/data/casp14_demo/T1026/features.pkl"],
        run: commands::features::features,
    },
    CommandSpec {
        name: "model",
        summary: "Choose the network's configuration: a preset with typed overrides.",
        details: "Presets: DeepMind's model_1..model_5 and their _ptm variants (Jumper et al. (2021) Suppl. Table 5), HelixFold's initial_training and finetune,\n\
                  and tiny (a few channels per layer, with templates and the PAE head) for tests and demonstrations. Overrides change the preset's sizes;\n\
                  a channel count read by attention must be a multiple of its heads. A changed configuration clears the parameters. `show config` lists the values.",
        args: commands::model::MODEL_ARGS,
        examples: &["model model_1_ptm", "model tiny templates=false", "model initial_training evoformer_num_block=24 num_recycle=1"],
        run: commands::model::model,
    },
    CommandSpec {
        name: "params",
        summary: "Initialise (seeded random), load (AlphaFold .npz or our .safetensors) or save (.safetensors) the model's parameters.",
        details: "init builds the chosen model with AlphaFold's initialisers from seed= (default 0); load reads DeepMind's params_model_*.npz (every array must match the model)\n\
                  or a checkpoint written by `params save`. The parameters live on the session's device at the time they are made. `show params` counts them per module.",
        args: &[
            ArgSpec { name: "action", kind: ArgKind::Choice(&["init", "load", "save"]), positional: true, required: true, help: "what to do" },
            ArgSpec { name: "file", kind: ArgKind::Path, positional: true, required: false, help: "the parameter file (load, save)" },
            ArgSpec { name: "seed", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "seed of random parameters (init)" },
        ],
        examples: &["params init seed=1", "params load params/params_model_1_ptm.npz", "params save out/tiny.safetensors"],
        run: commands::params::params,
    },
    CommandSpec {
        name: "precision",
        summary: "Show or set the precision of activations: fp32 or bf16.",
        details: "bf16 runs the network's activations in bfloat16 (layer norms and softmaxes stay fp32); parameters are kept as they are.",
        args: &[ArgSpec { name: "mode", kind: ArgKind::Choice(&["fp32", "bf16"]), positional: true, required: false, help: "the precision" }],
        examples: &["precision", "precision bf16"],
        run: commands::model::precision,
    },
    CommandSpec {
        name: "runtime",
        summary: "Show or set how the network runs: chunking, fused attention and recomputation.",
        details: "chunk_size splits attention, transition and outer-product computations into chunks of that many rows to bound memory (0 turns it off);\n\
                  results do not depend on it. fused_attention uses libtorch's scaled_dot_product_attention. recompute makes `train` keep only each\n\
                  Evoformer, extra-MSA and template block's input and recompute the block in the backward pass (HelixFold's recompute: less memory,\n\
                  one more forward pass; dropout and, under `parallel`, the blocks' collectives are replayed, so the step does not change).\n\
                  `show config` shows these with the precision.",
        args: &[
            ArgSpec { name: "chunk_size", kind: ArgKind::Int { min: 0, max: 1 << 20 }, positional: false, required: false, help: "rows per chunk, 0 for none" },
            flag("fused_attention", "use the fused attention kernel"),
            flag("recompute", "recompute the trunk's blocks in training's backward pass"),
        ],
        examples: &["runtime", "runtime chunk_size=128 fused_attention=true", "runtime recompute=true", "runtime chunk_size=0"],
        run: commands::model::runtime,
    },
    CommandSpec {
        name: "infer",
        summary: "Predict the structure of the session's batch with the model; keep its outputs and structure.",
        details: "Needs a batch (`features`), a model (`model`) and parameters (`params`). Runs recycles + 1 iterations (Jumper et al. (2021) Suppl. Alg. 2),\n\
                  iteration r on batch copy r (`features recycles=N` makes N + 1 copies), reporting each as it finishes; an interrupt stops it between iterations and leaves the session unchanged.\n\
                  The structure (pLDDT as B-factors, PAE for models with the PAE head) is stored as name= (default prediction) for `eval`, `save` and `plot`;\n\
                  a batch built from a loaded structure takes that structure's chain and residue numbers. `show outputs` lists the output arrays.",
        args: &[
            ArgSpec { name: "recycles", kind: ArgKind::Int { min: 0, max: 20 }, positional: false, required: false, help: "recycling iterations (default: the model's num_recycle)" },
            ArgSpec { name: "name", kind: ArgKind::Text, positional: false, required: false, help: "the structure name of the prediction" },
        ],
        examples: &["infer", "infer recycles=1", "infer name=tiny_model"],
        run: commands::inference::infer,
    },
    CommandSpec {
        name: "train",
        summary: "Train the session's network on a loaded structure or training set: step N, for a duration, or until a loss is low.",
        details: "Needs a model (`model`), parameters (`params`) and data (`load`): the structure named by structure=, else a loaded training set (a folder: examples drawn\n\
                  cluster-balanced with AlphaFold's length acceptance, malformed ones skipped with a warning), else the only loaded structure with the loaded alignments.\n\
                  AlphaFold's training step (Jumper et al. (2021) Suppl. Alg. 31):\n\
                  random recycles, every loss term, Adam with warm-up, clipping at 0.1 and a weight average. `train step [N]`, `train for 5m`, `train until loss<1.5`\n\
                  (or a loss term, e.g. `until fape<0.5`, at most max_steps=); progress after every step, and an interrupt stops at the next step boundary.\n\
                  The first `train` starts a run with lr=, warmup=, max_recycle=, seed=, accumulation=, clip=, overlap= and structure=; later ones continue it (`train reset` starts over).\n\
                  Under `parallel dp=N` every rank steps on its own examples and the gradients are averaged: one step equals one process accumulating N·accumulation examples.\n\
                  With clip=batch the average is clipped as a whole, and its all-reduce overlaps the last example's backward pass (overlap=false: after it; same result).\n\
                  The trained weights go back into the session's network after every command, for `infer`, `eval` and `params save`.",
        args: &[
            ArgSpec { name: "action", kind: ArgKind::Choice(commands::training::ACTIONS), positional: true, required: true, help: "step, for, until or reset" },
            ArgSpec { name: "amount", kind: ArgKind::Text, positional: true, required: false, help: "steps (step), a duration such as 90s or 5m (for), METRIC<VALUE (until)" },
            ArgSpec { name: "structure", kind: ArgKind::Text, positional: false, required: false, help: "the loaded structure to train on (default: a loaded training set, else the only structure)" },
            ArgSpec { name: "lr", kind: ArgKind::Float { min: 0.0, max: 1.0 }, positional: false, required: false, help: "peak learning rate (AlphaFold: 1e-3)" },
            ArgSpec { name: "warmup", kind: ArgKind::Int { min: 0, max: 1_000_000 }, positional: false, required: false, help: "linear warm-up steps (AlphaFold: 1000)" },
            ArgSpec { name: "max_recycle", kind: ArgKind::Int { min: 0, max: 20 }, positional: false, required: false, help: "recycles drawn from 0..=N per step" },
            ArgSpec { name: "seed", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "seed of the run's random draws" },
            ArgSpec { name: "max_steps", kind: ArgKind::Int { min: 1, max: 100_000_000 }, positional: false, required: false, help: "most steps `until` takes (default 10000)" },
            ArgSpec { name: "accumulation", kind: ArgKind::Int { min: 1, max: 1024 }, positional: false, required: false, help: "examples whose gradients make one step (per rank; default 1)" },
            ArgSpec { name: "clip", kind: ArgKind::Choice(crate::train::trainer::ClipScope::NAMES), positional: false, required: false, help: "clip each example's gradient (AlphaFold, default) or the step's averaged gradient (batch: HelixFold, OpenFold)" },
            flag("overlap", "under parallel dp=N, all-reduce gradients during the last backward pass where the step allows it (default true; needs clip=batch)"),
        ],
        examples: &["train step", "train step 20 lr=0.001 warmup=10", "train step clip=batch", "train for 5m", "train until loss<2.0 max_steps=500", "train reset"],
        run: commands::training::train,
    },
    CommandSpec {
        name: "checkpoint",
        summary: "Save the training run (weights, optimiser, weight average, schedule) or resume one.",
        details: "One safetensors file with JSON metadata, written atomically. `checkpoint load FILE` makes the checkpoint's model and weights the session's and\n\
                  continues its run on a loaded structure (structure= when several are loaded).",
        args: &[
            ArgSpec { name: "action", kind: ArgKind::Choice(&["save", "load"]), positional: true, required: true, help: "save or load" },
            ArgSpec { name: "file", kind: ArgKind::Path, positional: true, required: true, help: "the checkpoint (.safetensors)" },
            ArgSpec { name: "structure", kind: ArgKind::Text, positional: false, required: false, help: "the loaded structure to train on after loading" },
        ],
        examples: &["checkpoint save out/run.safetensors", "checkpoint load out/run.safetensors"],
        run: commands::training::checkpoint,
    },
    CommandSpec {
        name: "inspect",
        summary: "Look inside the network: list what can be recorded, or record and summarise attention, representations, recycles or the structure trajectory.",
        details: "Alone: what the loaded model can record (stacks, blocks, heads, rows/columns, iterations). With a subject it runs `infer` with that capture\n\
                  (or reuses the last inference's when it holds it) and summarises the tensors; `plot SUBJECT` with the same keys draws them without running again.\n\
                  attention module=msa_row|msa_col|tri_start|tri_end [stack=evoformer|extra_msa|template] [block=N] [head=H] [row=R|col=C]: the softmax weights [H, Q, K]\n\
                  of one module (Jumper et al. (2021) Suppl. Algs. 7, 8, 13, 14; the template stack's triangle attention averaged over templates) for one query\n\
                  row (msa_row: sequence, tri_start: pair row i) or column (msa_col: residue, tri_end: pair column j), averaged over all when omitted;\n\
                  per head: entropy, mean max weight, most attended keys; head=H adds its strongest query-key pairs. block defaults to 0.\n\
                  pair / msa_rep [block=N]: the pair / MSA representation after each Evoformer block: statistics, channel norms, change from the previous block.\n\
                  recycles: RMS change of pair and single representations and Cα RMSD between recycling iterations. trajectory: Cα after each structure-module layer.\n\
                  recycle=R picks the iteration for attention, pair, msa_rep and trajectory (default the last).",
        args: &[
            ArgSpec { name: "what", kind: ArgKind::Choice(commands::inspect::SUBJECTS), positional: true, required: false, help: "what to record and summarise" },
            ArgSpec { name: "module", kind: ArgKind::Choice(commands::inspect::MODULES), positional: false, required: false, help: "attention module (attention)" },
            ArgSpec { name: "stack", kind: ArgKind::Choice(commands::inspect::STACKS), positional: false, required: false, help: "stack of the block (attention; default evoformer)" },
            ArgSpec { name: "block", kind: ArgKind::Int { min: 0, max: 1024 }, positional: false, required: false, help: "block index, from 0" },
            ArgSpec { name: "head", kind: ArgKind::Int { min: 0, max: 1024 }, positional: false, required: false, help: "attention head, from 0" },
            ArgSpec { name: "row", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "query row: MSA sequence (msa_row) or pair row i (tri_start)" },
            ArgSpec { name: "col", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "query column: residue (msa_col) or pair column j (tri_end)" },
            ArgSpec { name: "recycle", kind: ArgKind::Int { min: 0, max: 20 }, positional: false, required: false, help: "recycling iteration, from 0 (default the last)" },
        ],
        examples: &[
            "inspect",
            "inspect attention module=msa_row block=0 row=0",
            "inspect attention module=tri_start block=1 head=2 row=10",
            "inspect attention module=msa_col col=5 recycle=0",
            "inspect pair",
            "inspect msa_rep block=3",
            "inspect recycles",
            "inspect trajectory",
        ],
        run: commands::inspect::inspect,
    },
    CommandSpec {
        name: "plot",
        summary: "Plot confidences, distograms, MSAs and templates, the inside of the network, training curves, or two predictions side by side.",
        details: "Outputs (need `infer`): plddt, pae, distogram (expected distances), contacts (P(d < 8 Å); native= adds the native's in the lower triangle),\n\
                  distances (predicted vs native Cα-Cα distances, native= required), structure (the Cα trace on its principal plane coloured by pLDDT).\n\
                  Inputs: msa (coverage coloured by identity to the query) and depth of a loaded MSA (msa=NAME, default the first); templates (the batch's template coverage).\n\
                  Inside the network (recorded as `inspect` records them, reused when already captured): attention module= [stack=] [block=] [head=] [row=|col=] [recycle=]\n\
                  (one head's map, head 0 by default); pair [block=] (channel norms ‖z_ij‖, every block side by side unless block=); pair_pc [block=] (first principal\n\
                  component of z_ij's channels); msa_rep [block=] (channel norms of the MSA representation); recycles (changes between iterations);\n\
                  trajectory [recycle=] (Cα traces after each structure-module layer on the final structure's principal plane, coloured by layer).\n\
                  Training (the session's run): loss [log=true] (total and every term), lr [log=true], grad_norm [log=true], lddt (lDDT-Cα and TM-score of each step's prediction against its labels), step_time.\n\
                  Comparisons of two structures (predictions kept by `infer name=...`, or loaded): compare_plddt a= b= (pLDDT curves), compare_pae a= b= (PAE maps).\n\
                  The figure is shown as SVG; path= also writes it as .svg or .png.",
        args: &[
            ArgSpec { name: "kind", kind: ArgKind::Choice(commands::plot::KINDS), positional: true, required: true, help: "the figure" },
            ArgSpec { name: "native", kind: ArgKind::Text, positional: false, required: false, help: "a loaded structure to compare with (contacts, distances)" },
            ArgSpec { name: "msa", kind: ArgKind::Text, positional: false, required: false, help: "the loaded MSA to plot (msa, depth)" },
            ArgSpec { name: "module", kind: ArgKind::Choice(commands::inspect::MODULES), positional: false, required: false, help: "attention module (attention)" },
            ArgSpec { name: "stack", kind: ArgKind::Choice(commands::inspect::STACKS), positional: false, required: false, help: "stack of the block (attention; default evoformer)" },
            ArgSpec { name: "block", kind: ArgKind::Int { min: 0, max: 1024 }, positional: false, required: false, help: "block index, from 0 (attention, pair, pair_pc, msa_rep)" },
            ArgSpec { name: "head", kind: ArgKind::Int { min: 0, max: 1024 }, positional: false, required: false, help: "attention head, from 0 (default 0)" },
            ArgSpec { name: "row", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "query row (attention msa_row, tri_start)" },
            ArgSpec { name: "col", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "query column (attention msa_col, tri_end)" },
            ArgSpec { name: "recycle", kind: ArgKind::Int { min: 0, max: 20 }, positional: false, required: false, help: "recycling iteration, from 0 (default the last)" },
            ArgSpec { name: "log", kind: ArgKind::Bool, positional: false, required: false, help: "log-scale y axis (loss, lr, grad_norm)" },
            ArgSpec { name: "a", kind: ArgKind::Text, positional: false, required: false, help: "first structure (compare_plddt, compare_pae)" },
            ArgSpec { name: "b", kind: ArgKind::Text, positional: false, required: false, help: "second structure (compare_plddt, compare_pae)" },
            ArgSpec { name: "path", kind: ArgKind::Path, positional: false, required: false, help: "write the figure to this .svg or .png file" },
        ],
        examples: &[
            "plot plddt",
            "plot pae path=out/pae.png",
            "plot contacts native=1a8o",
            "plot distances native=1a8o",
            "plot structure",
            "plot msa msa=uniref90 path=out/coverage.svg",
            "plot templates",
            "plot attention module=tri_start block=1 head=0 row=10",
            "plot pair",
            "plot pair_pc block=1",
            "plot msa_rep block=0",
            "plot recycles",
            "plot trajectory",
            "plot loss log=true",
            "plot lr",
            "plot compare_plddt a=before b=after",
        ],
        run: commands::plot::plot,
    },
    CommandSpec {
        name: "parallel",
        summary: "Set the hybrid-parallel layout (data, dynamic axial and branch parallelism) and start its processes; alone, show it.",
        details: "HelixFold's hybrid parallelism (Wang et al. 2022): dp data-parallel groups, dap devices sharing each Evoformer activation along one axis,\n\
                  bp 1 or 2 devices running the Evoformer's MSA and pair branches. The job needs dp × dap × bp processes: `parallel dp=N dap=M bp=K` starts\n\
                  N·M·K-1 worker processes on this machine (launch=external: waits for workers started elsewhere with\n\
                  `helixfold worker --rendezvous HOST:PORT --rank R --world W`), joins every rank to the job's process groups (world, dp, dap, bp) and\n\
                  from then on runs every command on every rank. Each rank gets its own CUDA device, or an equal share of the CPU cores.\n\
                  Workers start with an empty session: set the layout first, then load the model and data. `train` averages gradients over\n\
                  the dp group, shards the Evoformer, extra-MSA and template stacks over the dap group and splits each block's branches over\n\
                  the bp group (overlapping with `model ... outer_product_mean=end`; with `runtime recompute=true` every rank replays its blocks and their collectives); `infer` shards its\n\
                  pass the same way (and then runs to its end: the ranks cannot stop between iterations alone). Errors from any rank are reported; a worker that dies (no heartbeat\n\
                  for timeout= seconds) is reported and the session returns to one process; `parallel off` stops the workers.",
        args: &[
            ArgSpec { name: "mode", kind: ArgKind::Choice(&["off"]), positional: true, required: false, help: "off: stop the workers, back to one process" },
            ArgSpec { name: "dp", kind: ArgKind::Int { min: 1, max: 65_536 }, positional: false, required: false, help: "data-parallel degree" },
            ArgSpec { name: "dap", kind: ArgKind::Int { min: 1, max: 1024 }, positional: false, required: false, help: "dynamic axial parallelism degree" },
            ArgSpec { name: "bp", kind: ArgKind::Int { min: 1, max: 2 }, positional: false, required: false, help: "branch parallelism degree (1 or 2)" },
            ArgSpec { name: "launch", kind: ArgKind::Choice(&["local", "external"]), positional: false, required: false, help: "local: start the workers here (default); external: wait for workers started elsewhere" },
            ArgSpec { name: "port", kind: ArgKind::Int { min: 1, max: 65_535 }, positional: false, required: false, help: "launch=external: the port the workers connect to (default 29500)" },
            ArgSpec { name: "timeout", kind: ArgKind::Int { min: 1, max: 86_400 }, positional: false, required: false, help: "seconds to wait for workers to join, for a collective, and for a silent worker (default 60)" },
        ],
        examples: &["parallel", "parallel dp=2", "parallel off", "parallel dp=4 dap=2 bp=2", "parallel dp=8 launch=external port=29500"],
        run: commands::parallel::parallel,
    },
    CommandSpec {
        name: "eval",
        summary: "Score a model against a native structure: TM-score, GDT-TS, GDT-HA, RMSD, lDDT-Cα.",
        details: "Each of model and native is a loaded structure's name or a PDB/mmCIF file. Residues correspond by chain, residue number and insertion code;\n\
                  TM-score and GDT are normalised by the native's length (as the TM-score program), lDDT-Cα is computed over the common residues.",
        args: &[
            ArgSpec { name: "model", kind: ArgKind::Path, positional: true, required: true, help: "the predicted structure (name or file)" },
            ArgSpec { name: "native", kind: ArgKind::Path, positional: true, required: true, help: "the reference structure (name or file)" },
        ],
        examples: &["eval model native", "eval model=prediction native=examples/data/1a8o.pdb"],
        run: commands::structure::eval,
    },
    CommandSpec {
        name: "save",
        summary: "Write a structure as PDB or mmCIF, its PAE as JSON, or a prediction's outputs as npz.",
        details: "The format comes from the extension (.pdb, .cif, .json, .npz) unless format= names it; missing folders are created.\n\
                  pae: the structure's PAE (predictions of _ptm models and loaded PAE files) in the AlphaFold DB JSON format.\n\
                  outputs: every output array of the `infer` that made the structure, by AlphaFold's names (as `helixfold predict`'s outputs.npz).",
        args: &[
            ArgSpec { name: "name", kind: ArgKind::Text, positional: true, required: true, help: "the structure to write" },
            ArgSpec { name: "path", kind: ArgKind::Path, positional: true, required: true, help: "the file to write" },
            ArgSpec {
                name: "format",
                kind: ArgKind::Choice(&["pdb", "cif", "pae", "outputs"]),
                positional: false,
                required: false,
                help: "the output format, when the extension does not tell",
            },
        ],
        examples: &["save 1a8o out/demo/1a8o.pdb", "save model out/model.cif", "save prediction out/pae.json", "save prediction out/outputs.npz"],
        run: commands::structure::save,
    },
    CommandSpec {
        name: "data",
        summary: "Set the data pipeline's settings (crop size, MSA depth, extra MSA, seed); alone, show them.",
        details: "Defaults are AlphaFold's initial training values (Jumper et al. 2021, Suppl. Table 4). `show config` shows them too.",
        args: &[
            ArgSpec { name: "crop_size", kind: ArgKind::Int { min: 16, max: 100_000 }, positional: false, required: false, help: "residues per crop" },
            ArgSpec { name: "msa_depth", kind: ArgKind::Int { min: 1, max: 100_000 }, positional: false, required: false, help: "MSA cluster centres kept" },
            ArgSpec { name: "extra_msa", kind: ArgKind::Int { min: 0, max: 1_000_000 }, positional: false, required: false, help: "extra MSA sequences kept" },
            ArgSpec { name: "seed", kind: ArgKind::Int { min: 0, max: i64::MAX }, positional: false, required: false, help: "seed of the pipeline's sampling" },
        ],
        examples: &["data", "data crop_size=384 msa_depth=512 extra_msa=5120", "data seed=7"],
        run: commands::data_settings::data,
    },
    CommandSpec {
        name: "history",
        summary: "Show the commands run in this session.",
        details: "",
        args: &[ArgSpec {
            name: "last",
            kind: ArgKind::Int { min: 1, max: i64::MAX },
            positional: true,
            required: false,
            help: "show only the last N",
        }],
        examples: &["history", "history 5"],
        run: commands::general::history,
    },
    CommandSpec {
        name: "reset",
        summary: "Forget loaded data, model and outputs (device, threads and parallel workers stay).",
        details: "Where the front end can ask (Jupyter with stdin allowed), it asks for confirmation first and anything but y/yes leaves the session unchanged;\n\
                  force=true skips the question. Where nobody can be asked (scripts, notebooks run without stdin) it proceeds, as IPython's %reset does.",
        args: &[flag("history", "also clear the command history"), flag("force", "do not ask for confirmation")],
        examples: &["reset", "reset history=true", "reset force=true"],
        run: commands::general::reset,
    },
    CommandSpec {
        name: "sleep",
        summary: "Wait a number of seconds (stops early, with an error, when interrupted).",
        details: "Paces scripts and demonstrates interruption: Ctrl-C in the REPL or Interrupt in Jupyter ends it.",
        args: &[ArgSpec {
            name: "seconds",
            kind: ArgKind::Float { min: 0.0, max: 86400.0 },
            positional: true,
            required: true,
            help: "how long to wait",
        }],
        examples: &["sleep 0.5"],
        run: commands::general::sleep,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_help_mentions_every_argument() {
        let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        for command in COMMANDS {
            let help = command.help_text();
            for arg in command.args {
                assert!(help.contains(arg.name), "help of {} lacks {}", command.name, arg.name);
            }
        }
    }

    #[test]
    fn docs_page_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
        let generated = markdown_reference();
        if std::env::var_os("HELIXFOLD_UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/commands.md is stale: regenerate it with `HELIXFOLD_UPDATE_DOCS=1 cargo test docs_page`"
        );
    }
}
