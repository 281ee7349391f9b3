#!/usr/bin/env bash
# Sets up the OpenMMLab stack on an offline CUDA machine whose torch is preinstalled (e.g. an H100 or H200 with
# Python 3.12, torch 2.11+cu130). Run from the repo root before the first GPU command of a shell:
#   bash tools/setup_gpu.sh && export PYTHONPATH=/tmp/site:$PWD          # mmcv with CUDA ops (builds them)
#   bash tools/setup_gpu.sh --lite && export PYTHONPATH=/tmp/site:$PWD   # fast path: no build
# Expects in .whl/ (prepare them on a machine with PyPI access with `bash tools/setup_gpu.sh --download`,
# or `--download --lite`): cp312 wheels of mmengine, mmpose, mmdet, smplx and their pure-python deps, the
# sdist xtcocotools-1.14.3.tar.gz, and mmcv-2.1.0.tar.gz (full) or the mmcv_lite-2.1.0 wheel (--lite).
# --lite installs mmcv-lite with tools/mmcv_ext_standin.py as mmcv._ext: training, testing and benchmarking
# the mesh models work (they call no mmcv op); MMDet's detector (NMS, RoIAlign) and any other mmcv op raise,
# so the demo's person detection needs the full path. Install notes: docs/install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WHL=${WHL:-.whl}
SITE=${SITE:-/tmp/site}
PY=${PYTHON:-python3}
PY=$(realpath -s "$(command -v "$PY")")  # absolute: the builds below run in other folders
LITE=0
for a in "$@"; do [ "$a" = "--lite" ] && LITE=1; done
if [ "${1:-}" = "--download" ]; then
  mkdir -p "$WHL"
  plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
  pyver=${PY_VERSION:-3.12}
  if [ "$LITE" = 1 ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp $plat \
      -d "$WHL" mmcv-lite==2.1.0
  fi
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp $plat -d "$WHL" \
    mmengine==0.10.7 mmpose==1.3.2 mmdet==3.3.0 smplx==0.1.28 addict yapf termcolor json_tricks munkres \
    terminaltables shapely pycocotools platformdirs trimesh pyrender==0.1.45 PyOpenGL==3.1.7 freetype-py pyglet \
    rich markdown-it-py mdurl pygments tomli
  sdists="xtcocotools==1.14.3"; [ "$LITE" = 1 ] || sdists="mmcv==2.1.0 $sdists"
  # reading an sdist's metadata runs its setup.py, which imports numpy (and torch for mmcv): use the venv
  DLPY=${DL_PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
  $DLPY -m pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$WHL" $sdists || {
    echo "sdist download failed: fetch mmcv-2.1.0.tar.gz / xtcocotools-1.14.3.tar.gz from PyPI's simple index"; exit 1; }
  exit 0
fi
start=$(date +%s)
mkdir -p "$SITE"
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHL"/*.whl
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
if [ "$LITE" = 1 ]; then
  ls "$WHL"/mmcv_lite-2.1.0-*.whl >/dev/null 2>&1 || { echo "no mmcv_lite-2.1.0 wheel in $WHL: bash tools/setup_gpu.sh --download --lite"; exit 1; }
  cp tools/mmcv_ext_standin.py "$SITE/mmcv/_ext.py"
  tar -xzf "$WHL/xtcocotools-1.14.3.tar.gz" -C /tmp
  (cd /tmp/xtcocotools-1.14.3 && $PY -m pip install -q --no-deps --no-build-isolation --target "$SITE" . )
  $PY -c "import mmcv.ops, mmpose.models, mmdet.models, smplx, torch; print('stack ok (mmcv-lite: no mmcv ops), cuda', torch.cuda.is_available())"
  echo "setup_gpu --lite done in $(( $(date +%s) - start )) s; export PYTHONPATH=$SITE:\$PWD"
  exit 0
fi
ARCH=${TORCH_CUDA_ARCH_LIST:-$($PY -c 'import torch;m,n=torch.cuda.get_device_capability();print(f"{m}.{n}")')}
for sd in xtcocotools-1.14.3 mmcv-2.1.0; do
  tar -xzf "$WHL/$sd.tar.gz" -C /tmp
  (cd /tmp/$sd && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    $PY -m pip install -q --no-deps --no-build-isolation --target "$SITE" . )
done
$PY -c "import mmcv.ops, mmpose.models, mmdet.models, smplx, torch; from mmcv.ops import nms; print('stack ok, cuda', torch.cuda.is_available())"
echo "setup_gpu done in $(( $(date +%s) - start )) s; export PYTHONPATH=$SITE:\$PWD"
