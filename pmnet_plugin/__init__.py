"""PM-Net plugin for MMPose.

Importing it registers every component into ``mmpose.registry`` (the target of a config's
``custom_imports = dict(imports=['pmnet_plugin'])``).
"""
from . import utils  # noqa: F401,E402  (first: applies the torch>=2.6 checkpoint-loading fix)
from . import codecs, datasets, engine, evaluation, models, visualization  # noqa: F401,E402

__version__ = '0.1.0'
