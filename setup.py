"""pmnet_plugin: PM-Net (prototype-memory 3D human mesh recovery) as an MMPose 1.x plugin.

A built wheel carries ``configs/`` as ``pmnet_plugin/.mim/configs`` (the layout of MMPose's and MMDet's wheels),
so that the dataset metainfo and the configs are found without a checkout (``pmnet_plugin.utils.paths``).
"""
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
README = osp.join(ROOT, 'README.md')

INSTALL_REQUIRES = [
    'torch>=2.0',
    'numpy>=1.23',
    'mmengine>=0.10.4,<0.12',
    'mmcv>=2.0.1,<2.2.0',  # mmdet 3.3 asserts mmcv < 2.2; ops are required by mmpose.models
    'mmdet>=3.1,<3.4',
    # mmpose itself is installed with --no-deps (its chumpy pin does not build); its real deps follow.
    'mmpose>=1.1,<1.4',
    'json_tricks', 'munkres', 'xtcocotools>=1.12', 'scipy', 'matplotlib', 'opencv-python', 'pillow',
    'smplx>=0.1.28',
]
EXTRAS = {
    'render': ['pyrender>=0.1.45', 'PyOpenGL==3.1.7', 'trimesh'],
    'data': ['pybullet>=3.2', 'scikit-image', 'fast_simplification'],
    'tests': ['pytest'],
    'lint': ['flake8==7.5.0', 'isort==9.0.2'],  # make lint (setup.cfg)
    'deploy': ['onnx', 'onnxruntime'],  # tools/export_onnx.py, demo --backend onnxruntime
    'export': ['bvhio>=1.5', 'trimesh'],  # demo --export bvh / glb
}
EXTRAS['all'] = sorted({r for reqs in EXTRAS.values() for r in reqs})


class BuildPyWithConfigs(build_py):
    """``build_py`` that also copies ``configs/`` into ``<build>/pmnet_plugin/.mim/configs``.

    An editable install (``pip install -e .``) reads the checkout's ``configs/`` directly and copies nothing.
    """

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        target = osp.join(self.build_lib, 'pmnet_plugin', '.mim', 'configs')
        if osp.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(osp.join(ROOT, 'configs'), target,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(
    name='pmnet_plugin',
    version='0.1.0',
    description='PM-Net: prototype memory for monocular 3D human mesh recovery (MMPose plugin)',
    long_description=open(README).read() if osp.exists(README) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.9',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
    cmdclass={'build_py': BuildPyWithConfigs},
    license='Apache-2.0',
)
