"""PM-Net plugin for MMPose.

Importing it registers every component into ``mmpose.registry`` (the target of a config's
``custom_imports = dict(imports=['pmnet_plugin'])``).
"""
from . import compat  # noqa: F401,E402  (first: the environment fixes, see compat/__init__.py)
from . import codecs, datasets, engine, evaluation, models, utils, visualization  # noqa: F401,E402

__version__ = '0.1.0'
