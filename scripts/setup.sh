#!/usr/bin/env bash
# Creates the project-local Python environment that provides libtorch (and the Python reference
# packages used by the tests), then the link view that cargo builds against.
#
#   TORCH_VARIANT=cpu  (default) lean: PyPI's torch==2.11.0 wheel without its CUDA dependencies
#                      except the CUDA runtime and CUPTI, which libtorch_cpu.so links (~1.5 GB).
#   TORCH_VARIANT=cuda the full wheel with every NVIDIA library (~4.6 GB); builds with
#                      LIBTORCH_USE_PYTORCH=1.
# Both fetch the headers the NCCL backend is compiled against (scripts/fetch-nccl-header.sh).
# Idempotent: a second run only checks the stamp file.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages, installed here when missing and apt is at hand: tmux (the REPL and `jupyter
# console` tests drive a real terminal through it), chromium (JupyterLab opened in a headless
# browser) and libgloo-dev (the Gloo headers build.rs compiles the c10d shim of src/parallel
# against; without them the build leaves multi-process parallelism out).
apt_install() {
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q "$1" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$1" >/dev/null; }
  else
    echo "setup: $1 is missing ($2): install it with your package manager" >&2
  fi
}
command -v tmux >/dev/null || apt_install tmux "the terminal tests need it"
command -v chromium >/dev/null || apt_install chromium "the JupyterLab browser test needs it"
[ -f /usr/include/gloo/algorithm.h ] || apt_install libgloo-dev "multi-process parallelism needs its headers"
VARIANT=${TORCH_VARIANT:-cpu}
VENV=.venv
STAMP=$VENV/.ready-$VARIANT
REQS=(scripts/requirements-reference.txt scripts/requirements-alphafold.txt)
if [ -f "$STAMP" ] && [ "$STAMP" -nt scripts/setup.sh ] && [ "$STAMP" -nt "${REQS[0]}" ] \
  && [ "$STAMP" -nt "${REQS[1]}" ]; then
  exit 0
fi
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check -q"
if [ "$VARIANT" = cuda ]; then
  $PIP install torch==2.11.0
else
  $PIP install --no-deps torch==2.11.0
  $PIP install "cuda-toolkit[cudart,cupti]==13.0.2"
fi
$PIP install -r scripts/requirements-reference.txt
$PIP install --no-deps -r scripts/requirements-alphafold.txt

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TORCH=$SITE/torch
VIEW=$VENV/libtorch
rm -rf "$VIEW"
mkdir -p "$VIEW/lib"
ln -s "$TORCH/include" "$VIEW/include"
"$VENV/bin/python" - "$TORCH/version.py" > "$VIEW/build-version" <<'PYEOF'
import re, sys
print(re.search(r"__version__ = '([^']+)'", open(sys.argv[1]).read()).group(1))
PYEOF
for lib in libc10.so libtorch_cpu.so libgomp.so.1; do ln -s "$TORCH/lib/$lib" "$VIEW/lib/$lib"; done
# The link view names libtorch_cpu as libtorch: libtorch.so itself only pulls in
# libtorch_cuda.so, which the binary loads at run time when a GPU is asked for.
ln -s "$TORCH/lib/libtorch_cpu.so" "$VIEW/lib/libtorch.so"
# The headers of NCCL and of the CUDA libraries that build.rs compiles the NCCL process group
# (src/parallel/nccl_shim.cpp) against; without them the build leaves NCCL out, so a failed
# download is a warning, not the end of the set-up.
scripts/fetch-nccl-header.sh || echo "setup: the NCCL headers could not be fetched: this build will leave the NCCL backend out (rerun scripts/fetch-nccl-header.sh, then touch build.rs)" >&2
touch "$STAMP"
