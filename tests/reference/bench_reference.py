#!/usr/bin/env python3
"""Times DeepMind's AlphaFold2 forward pass (PyPI `alphafold==2.0.0`) the way users run it.

The model (`modules.AlphaFold` under `hk.transform`, as `alphafold/model/model.py`'s RunModel
builds it) is jitted once and run on a processed batch with seeded random parameters of the
preset's full size. The batch is either generated here (`make_reference.processed_batch`) or
read from `--batch FILE` (an `.npz` by AlphaFold's names with the leading recycle axis, as
`helixfold bench infer --reference jax` writes it, so that both programs time the same input).
Prints one JSON line:

  {"seconds_per_recycle": ..., "compile_seconds": ..., "peak_rss_mib": ..., ...}

seconds_per_recycle: the median wall time of `--repeats` jitted forward passes (num_recycle + 1
iterations of the trunk and heads each, after compilation), divided by num_recycle + 1.
compile_seconds: lowering plus XLA compilation. peak_rss_mib: the process's peak resident memory
during the timed passes (the high-water mark is reset through /proc/self/clear_refs first).

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


def read_batch(path):
    """A processed batch written by `helixfold bench infer`: 32-bit as JAX runs it, plus the
    atom14/atom37 index maps that DeepMind's model reads from the batch (derived from aatype)."""
    with np.load(path) as arrays:
        batch = {name: arrays[name] for name in arrays.files}
    for name, value in batch.items():
        if value.dtype == np.int64:
            batch[name] = value.astype(np.int32)
        elif value.dtype == np.float64:
            batch[name] = value.astype(np.float32)
    copies = batch["aatype"].shape[0]
    for name, value in make_reference.atom_masks(batch["aatype"][0]).items():
        batch[name] = np.stack([value] * copies)
    return batch


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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
    parser.add_argument("--batch", help="time this processed batch (.npz) instead of a generated one")
    parser.add_argument("--repeats", type=int, default=1, help="timed forward passes")
    args = parser.parse_args(argv)

    jax.config.update("jax_platforms", "cpu")
    cfg = af_config.model_config(args.preset)
    cfg.model.num_recycle = args.recycles
    rng = np.random.default_rng(args.seed)
    if args.batch:
        batch = read_batch(args.batch)
        copies, args.length = batch["aatype"].shape
        args.recycles = copies - 1
        cfg.model.num_recycle = args.recycles
        args.msa = batch["msa_feat"].shape[1]
        args.extra_msa = batch["extra_msa"].shape[1]
        args.templates = batch["template_aatype"].shape[1] if "template_aatype" in batch else 0
    else:
        aatype, positions, mask = random_structure(rng, args.length)
        batch = make_reference.processed_batch(rng, aatype, positions, mask, args.msa,
                                               args.extra_msa, args.templates, args.recycles)
    if "template_aatype" not in batch:
        cfg.model.embeddings_and_evoformer.template.enabled = False
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

    reset_peak_rss()
    passes = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(params, key, batch))
        passes.append(time.perf_counter() - start)

    print(json.dumps({
        "seconds_per_recycle": float(np.median(passes)) / (args.recycles + 1),
        "pass_seconds": passes,
        "compile_seconds": compile_seconds,
        "peak_rss_mib": peak_rss_mib(),
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
