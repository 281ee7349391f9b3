"""Stand-in for mmcv's compiled ops (``mmcv/_ext``) under ``mmcv-lite``, installed by ``tools/setup_gpu.sh --lite``.

Every op raises when called, naming itself; importing ``mmcv.ops`` (which ``mmpose.models`` and
``mmdet.models`` do) works. The mesh models, ``tools/train.py``, ``tools/test.py`` and ``tools/benchmark.py``
call no mmcv op; MMDet's detector does (NMS, RoIAlign), so the top-down demo's person detection does not run.
"""


def get_compiler_version() -> str:
    return 'none (mmcv-lite)'


def get_compiling_cuda_version() -> str:
    return 'none (mmcv-lite)'


def __getattr__(name: str):
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise RuntimeError(f'mmcv op {name} is not compiled (mmcv-lite, tools/setup_gpu.sh --lite): build mmcv '
                           'with its CUDA ops (bash tools/setup_gpu.sh) for MMDet\'s detector and other ops')
    return missing
