from .mesh_eval import (balanced_mean, binned_stats, knn_distance, labelled_h36m_joints,
                        mesh_rarity, nearest_distance, pelvis_align, per_sample_mpjpe,
                        per_sample_pve, select_tail, similarity_procrustes, tail_tag)
from .temporal_eval import accel_error, id_switches

__all__ = [
    'pelvis_align', 'similarity_procrustes', 'per_sample_mpjpe', 'per_sample_pve',
    'labelled_h36m_joints', 'mesh_rarity', 'nearest_distance', 'knn_distance', 'select_tail',
    'binned_stats', 'balanced_mean', 'tail_tag', 'accel_error', 'id_switches'
]
