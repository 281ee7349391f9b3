"""Datasets, annotation readers and SMPL-aware transforms (see docs/datasets.md for pipelines)."""
from .cached_feature_dataset import CachedFeatureDataset, cached_feature_collate
from .collate import mesh_collate
from .humandata import AnnotationError, read_annotations, read_humandata, read_spin_npz
from .keypoint_conventions import (KEYPOINT_CONVENTIONS, convert_keypoints, get_keypoint_names,
                                   get_mapping)
from .mixed_dataset import MixedSMPLDataset
from .smpl_image_dataset import SMPL24_METAINFO_FILE, SMPLImageDataset
from .supervision import joint_set_metainfo, to_joint_set
from .transforms import *  # noqa: F401,F403

__all__ = [
    'CachedFeatureDataset', 'cached_feature_collate', 'mesh_collate', 'AnnotationError', 'read_annotations',
    'read_humandata', 'read_spin_npz',
    'KEYPOINT_CONVENTIONS', 'convert_keypoints', 'get_keypoint_names', 'get_mapping',
    'MixedSMPLDataset', 'SMPL24_METAINFO_FILE', 'SMPLImageDataset', 'joint_set_metainfo',
    'to_joint_set'
]
