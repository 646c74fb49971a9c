# Source this (or let the Makefile do it) to build against the project's libtorch.
# shellcheck shell=bash
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The real path, so that every checkout sharing one venv (git worktrees) builds torch-sys alike.
_venv=$(cd "$_root/.venv" 2>/dev/null && pwd -P || echo "$_root/.venv")
export PATH="$_venv/bin:$PATH"
if [ "${TORCH_VARIANT:-cpu}" = cuda ]; then
  export LIBTORCH_USE_PYTORCH=1
  unset LIBTORCH
else
  export LIBTORCH="$_venv/libtorch"
  export LIBTORCH_CXX11_ABI=1
  unset LIBTORCH_USE_PYTORCH
fi
unset _root _venv
