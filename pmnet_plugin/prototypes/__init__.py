"""Offline pose prototypes: clustering SMPL poses into a prototype file, and reading/writing such files."""
from .clustering import balanced_sample_weights, build_prototypes, data_mean_params, kmeans
from .io import load_pose_source, load_prototypes, save_prototypes

__all__ = [
    'kmeans', 'balanced_sample_weights', 'build_prototypes', 'data_mean_params', 'save_prototypes',
    'load_prototypes', 'load_pose_source'
]
