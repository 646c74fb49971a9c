#!/usr/bin/env python3
"""Adds one case to make_reference.py's table and runs it: `embeddings_and_evoformer`, the trunk
alone (DeepMind's `modules.EmbeddingsAndEvoformer`, Jumper et al. (2021) Suppl. Alg. 2 lines
5-18) on the first recycling iteration (all recycled inputs zero), so that the embedders, the
template embedding, the extra-MSA stack and the Evoformer are checked end to end without the
structure module.

Sizes and features are those of `model_1_ptm_small` (16 residues of 1GCN, 6 MSA rows, 8 extra
rows, 2 templates, 2 Evoformer blocks, 1 extra-MSA block). Parameters use the full model's keys.

inputs.npz: the one-iteration batch (no leading recycle dim), `prev_pos`, `prev_msa_first_row`,
`prev_pair` (zeros), and under `torsion/` the template torsion features that the model computes
internally with `all_atom.atom37_to_torsion_angles` (`torsion_angles_sin_cos [T,N,7,2]`,
`alt_torsion_angles_sin_cos`, `torsion_angles_mask [T,N,7]`), which the Rust trunk takes as inputs.
outputs.npz: `single [N,384]`, `pair [N,N,128]`, `msa [6,N,256]`, `msa_first_row [N,256]`.

  python tests/reference/make_trunk_reference.py --out DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as ref  # noqa: E402  (imports the shims first)

import haiku as hk  # noqa: E402
import numpy as np  # noqa: E402
from alphafold.model import all_atom, modules  # noqa: E402

CASE = "embeddings_and_evoformer"
OVERRIDES = {
    "model.global_config.subbatch_size": None,
    "model.embeddings_and_evoformer.evoformer_num_block": 2,
    "model.embeddings_and_evoformer.extra_msa_stack_num_block": 1,
}


def build(rng):
    cfg = ref.model_config(OVERRIDES)
    evo = cfg.model.embeddings_and_evoformer
    gc = cfg.model.global_config
    aatype, positions, mask = ref.glucagon_crop(16)
    stacked = ref.processed_batch(rng, aatype, positions, mask, 6, 8, 2, num_recycle=0)
    ref.check_template_torsions_jit_invariant(stacked)
    batch = {k: v[0] for k, v in stacked.items()}
    num_res = len(aatype)
    batch["prev_pos"] = np.zeros((num_res, 37, 3), np.float32)
    batch["prev_msa_first_row"] = np.zeros((num_res, evo.msa_channel), np.float32)
    batch["prev_pair"] = np.zeros((num_res, num_res, evo.pair_channel), np.float32)
    torsions = all_atom.atom37_to_torsion_angles(
        aatype=batch["template_aatype"],
        all_atom_pos=batch["template_all_atom_positions"],
        all_atom_mask=batch["template_all_atom_masks"],
        placeholder_for_undefined=not gc.zero_init)
    for key in ("torsion_angles_sin_cos", "alt_torsion_angles_sin_cos", "torsion_angles_mask"):
        batch[f"torsion/{key}"] = np.asarray(torsions[key], np.float32)

    def forward(b):
        with hk.name_scope("alphafold"), hk.name_scope("alphafold_iteration"):
            out = modules.EmbeddingsAndEvoformer(evo, gc)(b, is_training=False)
        return {k: out[k] for k in ("single", "pair", "msa", "msa_first_row")}

    return ref.CaseSpec(batch, forward, "", stacked=False, cfg=cfg, overrides=OVERRIDES)


if __name__ == "__main__":
    ref.CASES[CASE] = build
    argv = sys.argv[1:]
    if "--case" not in argv:
        argv += ["--case", CASE]
    ref.main(argv)
