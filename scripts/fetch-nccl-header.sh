#!/usr/bin/env bash
# Puts the headers that build.rs needs, beyond libtorch's and the CUDA runtime wheel's, to compile
# src/parallel/nccl_shim.cpp (the NCCL process group) into .venv/nccl/include/ (2.5 MB):
# - nccl.h: torch 2.11 is built against nvidia-nccl-cu13==2.28.9. The lean CPU set-up does not
#   install it, so pip downloads that wheel (196 MB, measured 2026-11-26: it is mostly
#   libnccl.so.2), the header is extracted and the wheel deleted. Where the wheel is installed
#   (TORCH_VARIANT=cuda) its header is copied instead;
# - the CUDA headers that ProcessGroupNCCL.hpp pulls in (through ATen/cuda/CUDAContextLight.h)
#   and the cudart wheel lacks, from the wheels of the versions cuda-toolkit==13.0.2 pins (torch
#   2.11's): crt/*.h (nvidia-cuda-crt==13.0.88, 134 KB), nv/* (nvidia-cuda-cccl==13.0.85, 3 MB),
#   cublas*.h (nvidia-cublas==13.1.0.3, 423 MB), cusolver*.h (nvidia-cusolver==12.0.4.66,
#   201 MB), cusparse*.h (nvidia-cusparse==12.6.3.3, 146 MB). Only the headers are kept; each
#   wheel is deleted before the next download. The CUDA set-up (TORCH_VARIANT=cuda) installs
#   cublas, cusolver and cusparse with their headers, so there only crt and nv are fetched.
# In all, the lean set-up downloads about 970 MB once (about 30 s here) and keeps 2.5 MB.
# At run time on a GPU machine libnccl.so.2 comes from the CUDA torch install there.
# Idempotent: does nothing when the headers are there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
TARGET=$VENV/nccl/include
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CUDA_INCLUDE=$SITE/nvidia/cu13/include
# present FILE: whether FILE (relative to an include folder) is in $TARGET or the CUDA wheels'.
present() { [ -f "$TARGET/$1" ] || [ -f "$CUDA_INCLUDE/$1" ]; }
# The headers needed, each with the wheel (requirement, file-name prefix) and folder that hold it.
HEADERS=(
  "crt/host_config.h nvidia-cuda-crt==13.0.88 nvidia_cuda_crt crt/"
  "nv/target nvidia-cuda-cccl==13.0.85 nvidia_cuda_cccl nv/"
  "cublas_v2.h nvidia-cublas==13.1.0.3 nvidia_cublas cublas"
  "cusolverDn.h nvidia-cusolver==12.0.4.66 nvidia_cusolver cusolver"
  "cusparse.h nvidia-cusparse==12.6.3.3 nvidia_cusparse cusparse"
)
missing=0
for entry in "${HEADERS[@]}"; do
  read -r header _ <<< "$entry"
  present "$header" || missing=1
done
[ -f "$TARGET/nccl.h" ] && [ $missing = 0 ] && exit 0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$TARGET"
# extract WHEEL ROOT PREFIX: the wheel's files whose path starts with ROOT/PREFIX, into
# $TARGET with ROOT removed.
extract() {
  "$VENV/bin/python" - "$1" "$2" "$3" "$TARGET" <<'PYEOF'
import os, sys, zipfile
wheel, root, prefix, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith(root + prefix) and not name.endswith("/"):
            path = os.path.join(target, name[len(root):])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(archive.read(name))
PYEOF
}
download() { # requirement
  "$VENV/bin/pip" download --disable-pip-version-check -q --no-deps "$1" -d "$WORK"
}
if [ -f "$SITE/nvidia/nccl/include/nccl.h" ]; then
  cp "$SITE/nvidia/nccl/include/nccl.h" "$TARGET/"
else
  download nvidia-nccl-cu13==2.28.9
  extract "$WORK"/nvidia_nccl_cu13-*.whl nvidia/nccl/include/ ""
  rm -f "$WORK"/nvidia_nccl_cu13-*.whl
fi
for entry in "${HEADERS[@]}"; do
  read -r header requirement wheel folder <<< "$entry"
  present "$header" && continue
  download "$requirement"
  extract "$WORK/$wheel"-*.whl nvidia/cu13/include/ "$folder"
  rm -f "$WORK/$wheel"-*.whl
done
echo "fetch-nccl-header: headers in $TARGET"
