#!/usr/bin/env python3
"""Times DeepMind's AlphaFold2 forward pass (PyPI `alphafold==2.0.0`) the way users run it.

The model (`modules.AlphaFold` under `hk.transform`, as `alphafold/model/model.py`'s RunModel
builds it) is jitted once and run on a random processed batch with seeded random parameters of
the preset's full size. Prints one JSON line:

  {"seconds_per_recycle": ..., "compile_seconds": ..., "peak_rss_mb": ..., ...}

seconds_per_recycle: wall time of one jitted forward (num_recycle + 1 iterations of the trunk
and heads, after compilation), divided by num_recycle + 1. compile_seconds: lowering plus XLA
compilation. peak_rss_mb: the process's peak resident memory.

  python tests/reference/bench_reference.py --preset model_1 --length 80 --msa 32 --recycles 3
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference  # noqa: E402  (imports the AlphaFold shims first)

import haiku as hk  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from alphafold.model import config as af_config  # noqa: E402
from alphafold.model import modules  # noqa: E402


def random_structure(rng, length):
    """A random sequence with chain-like random-walk coordinates for its templates."""
    aatype = rng.integers(0, 20, length).astype(np.int32)
    trace = np.cumsum(rng.standard_normal((length, 3)) * 2.2, axis=0)
    positions = trace[:, None, :] + rng.standard_normal((length, 37, 3))
    mask = make_reference.atom_masks(aatype)["atom37_atom_exists"]
    return aatype, (positions * mask[..., None]).astype(np.float32), mask


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="model_1", choices=sorted(af_config.CONFIG_DIFFS))
    parser.add_argument("--length", type=int, default=80, help="residues")
    parser.add_argument("--msa", type=int, default=32, help="clustered MSA rows")
    parser.add_argument("--extra-msa", type=int, default=64, help="extra MSA rows")
    parser.add_argument("--templates", type=int, default=4,
                        help="templates (used only by presets with templates)")
    parser.add_argument("--recycles", type=int, default=3, help="num_recycle")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    jax.config.update("jax_platforms", "cpu")
    cfg = af_config.model_config(args.preset)
    cfg.model.num_recycle = args.recycles
    rng = np.random.default_rng(args.seed)
    aatype, positions, mask = random_structure(rng, args.length)
    batch = make_reference.processed_batch(rng, aatype, positions, mask, args.msa,
                                           args.extra_msa, args.templates, args.recycles)
    if not cfg.model.embeddings_and_evoformer.template.enabled:
        batch = {k: v for k, v in batch.items() if not k.startswith("template_")}

    def forward(b):
        model = modules.AlphaFold(cfg.model)
        return model(b, is_training=False, compute_loss=False, ensemble_representations=True)

    transformed = hk.transform(forward)
    key = jax.random.PRNGKey(args.seed)
    shapes = jax.eval_shape(transformed.init, key, batch)
    params = make_reference.random_params(shapes, rng, has_layer_stacks=True)

    start = time.perf_counter()
    compiled = jax.jit(transformed.apply).lower(params, key, batch).compile()
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    jax.block_until_ready(compiled(params, key, batch))
    run_seconds = time.perf_counter() - start

    print(json.dumps({
        "seconds_per_recycle": run_seconds / (args.recycles + 1),
        "compile_seconds": compile_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "preset": args.preset,
        "length": args.length,
        "msa": args.msa,
        "extra_msa": args.extra_msa,
        "templates": args.templates if "template_aatype" in batch else 0,
        "recycles": args.recycles,
        "device": jax.devices()[0].platform,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
