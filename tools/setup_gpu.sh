#!/usr/bin/env bash
# Sets up the OpenMMLab stack on an offline CUDA machine whose torch is preinstalled (e.g. the lent H100/H200:
# Python 3.12, torch 2.11+cu130). Run from the repo root as the first line of every GPU call:
#   bash tools/setup_gpu.sh && export PYTHONPATH=/tmp/site:$PWD
# Expects in .whl/ (prepare them on a machine with PyPI access with `bash tools/setup_gpu.sh --download`):
#   cp312 wheels of mmengine, mmpose, mmdet, smplx and their pure-python deps, and the sdists
#   mmcv-2.1.0.tar.gz and xtcocotools-1.14.3.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
WHL=${WHL:-.whl}
SITE=${SITE:-/tmp/site}
PY=${PYTHON:-python3}
if [ "${1:-}" = "--download" ]; then
  mkdir -p "$WHL"
  plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $plat -d "$WHL" \
    mmengine==0.10.7 mmpose==1.3.2 mmdet==3.3.0 smplx==0.1.28 addict yapf termcolor json_tricks munkres \
    terminaltables shapely pycocotools platformdirs trimesh pyrender==0.1.45 PyOpenGL==3.1.7 freetype-py pyglet \
    rich markdown-it-py mdurl pygments tomli
  python3 -m pip download -q --no-deps --no-binary=:all: -d "$WHL" mmcv==2.1.0 xtcocotools==1.14.3 || {
    echo "sdist download failed: fetch mmcv-2.1.0.tar.gz / xtcocotools-1.14.3.tar.gz from PyPI's simple index"; exit 1; }
  exit 0
fi
start=$(date +%s)
mkdir -p "$SITE"
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHL"/*.whl
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
ARCH=${TORCH_CUDA_ARCH_LIST:-$($PY -c 'import torch;m,n=torch.cuda.get_device_capability();print(f"{m}.{n}")')}
for sd in xtcocotools-1.14.3 mmcv-2.1.0; do
  tar -xzf "$WHL/$sd.tar.gz" -C /tmp
  (cd /tmp/$sd && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    $PY -m pip install -q --no-deps --no-build-isolation --target "$SITE" . )
done
$PY -c "import mmcv.ops, mmpose.models, mmdet.models, smplx, torch; from mmcv.ops import nms; print('stack ok, cuda', torch.cuda.is_available())"
echo "setup_gpu done in $(( $(date +%s) - start )) s; export PYTHONPATH=$SITE:\$PWD"
