"""Offline data: real mocap pose library (DeepMimic clips retargeted to SMPL), pose sampling and the
rendered long-tail image dataset. Importing this package needs numpy, scipy and opencv only; rendering
(``synth_dataset.render_split``) imports torch, the body model and pyrender lazily."""
from .deepmimic import (COMMON_CLIPS, RARE_CLIPS, build_pose_library, load_pose_library, read_clip,
                        retarget_to_smpl, save_pose_library)
from .pose_sampling import (canonical_to_camera, place_in_crop, sample_indices, sample_smpl_params,
                            split_masks)
from .synth_dataset import load_humandata, make_synthetic_dataset, write_humandata

__all__ = [
    'COMMON_CLIPS', 'RARE_CLIPS', 'build_pose_library', 'load_pose_library', 'read_clip', 'retarget_to_smpl',
    'save_pose_library', 'canonical_to_camera', 'place_in_crop', 'sample_indices', 'sample_smpl_params',
    'split_masks', 'load_humandata', 'make_synthetic_dataset', 'write_humandata'
]
