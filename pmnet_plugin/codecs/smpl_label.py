"""Label codec for SMPL mesh recovery: 2D joints in the crop, 3D joints and SMPL parameters."""
from typing import Optional, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class SMPLLabelCodec(BaseKeypointCodec):
    """Encode crop-space 2D joints to [-1, 1] and pass 3D joints / SMPL parameters through as labels.

    Normalisation follows the weak-perspective camera of docs/design.md:
    ``x_norm = 2 * x_px / W - 1`` (so ``x_px = (x_norm + 1) * W / 2``).

    Encoded (-> ``gt_instance_labels`` through ``label_mapping_table``):

        - ``keypoint_labels`` (N, J, 2) and ``keypoint_weights`` (N, J)
        - ``keypoints_3d`` (N, J, 3) root-relative metres and ``keypoints_3d_weights`` (N, J)
        - ``keypoints_3d_root`` (N, J): weights of the joints whose mean is each sample's 3D root (the
          loss aligns prediction and label on it); one-hot on joint 0 when the sample gives none
        - ``smpl_pose`` (N, 72), ``smpl_betas`` (N, 10), ``has_smpl`` (N,) float 0/1

    The 3D/SMPL labels are stored under ``*_label`` keys of the results (packed under the names above) so
    that the raw ``keypoints_3d``/``smpl_pose``... stay for ``gt_instances`` (evaluation). The
    ``instance_mapping_table`` REPLACES PackPoseInputs' default: it keeps ``bbox``/``bbox_score``/
    ``keypoints``/``keypoints_visible``/``bbox_scale`` and adds the 3D/SMPL ground truth.

    Args:
        input_size (tuple): Network input (w, h). Defaults to (224, 224).
        mask_outside (bool): Zero the 2D weight of joints outside the crop. Defaults to False
            (SPIN keeps them: weak-perspective labels stay meaningful beyond the border).
        num_keypoints (int): J, used when a sample carries no 3D labels. Defaults to 24.

    Note:
        - instances: N (1 for top-down);  joints: J
    """

    auxiliary_encode_keys = {
        'keypoints_3d', 'keypoints_3d_visible', 'keypoints_3d_root', 'smpl_pose', 'smpl_betas',
        'has_smpl'
    }
    # results key -> gt_instance_labels name (the label vocabulary of docs/design.md)
    label_mapping_table = dict(
        keypoint_labels='keypoint_labels',
        keypoint_weights='keypoint_weights',
        keypoints_3d_weights='keypoints_3d_weights',
        **{f'{name}_label': name
           for name in ('keypoints_3d', 'keypoints_3d_root', 'smpl_pose', 'smpl_betas', 'has_smpl')})
    # results key -> gt_instances name
    instance_mapping_table = dict(
        bbox='bboxes',
        bbox_score='bbox_scores',
        bbox_scale='bbox_scales',
        **{name: name for name in ('keypoints', 'keypoints_visible', 'keypoints_3d', 'keypoints_3d_visible',
                                   'smpl_pose', 'smpl_betas', 'has_smpl')})

    def __init__(self,
                 input_size: Tuple[int, int] = (224, 224),
                 mask_outside: bool = False,
                 num_keypoints: int = 24) -> None:
        super().__init__()
        self.input_size = tuple(input_size)
        self.mask_outside = mask_outside
        self.num_keypoints = num_keypoints

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               keypoints_3d: Optional[np.ndarray] = None,
               keypoints_3d_visible: Optional[np.ndarray] = None,
               keypoints_3d_root: Optional[np.ndarray] = None,
               smpl_pose: Optional[np.ndarray] = None,
               smpl_betas: Optional[np.ndarray] = None,
               has_smpl: Optional[np.ndarray] = None) -> dict:
        """Encode labels of N instances.

        Args:
            keypoints (np.ndarray): Crop-space joints in input px, shape (N, J, 2).
            keypoints_visible (np.ndarray, optional): (N, J) visibility/confidence.
            keypoints_3d (np.ndarray, optional): (N, J, 3) root-relative metres.
            keypoints_3d_visible (np.ndarray, optional): (N, J).
            keypoints_3d_root (np.ndarray, optional): (N, J) root weights (sum 1 per labelled sample).
            smpl_pose (np.ndarray, optional): (N, 72) axis-angle.
            smpl_betas (np.ndarray, optional): (N, 10).
            has_smpl (np.ndarray, optional): (N,) 0/1.

        Returns:
            dict: ``keypoint_labels`` (N, J, 2), ``keypoint_weights`` (N, J), ``keypoints_3d_label``
            (N, J, 3), ``keypoints_3d_weights`` (N, J), ``keypoints_3d_root_label`` (N, J),
            ``smpl_pose_label`` (N, 72),
            ``smpl_betas_label`` (N, 10), ``has_smpl_label`` (N,), all float32.
        """
        keypoints = np.asarray(keypoints, np.float32)[..., :2]
        n, j = keypoints.shape[:2]
        if keypoints_visible is None:
            keypoints_visible = np.ones((n, j), np.float32)
        size = np.array(self.input_size, np.float32)
        labels = keypoints / size * 2. - 1.
        weights = np.clip(np.asarray(keypoints_visible, np.float32).reshape(n, j), 0., 1.)
        if self.mask_outside:
            weights = weights * (np.abs(labels) <= 1.).all(-1)
        has = np.zeros(n, np.float32) if has_smpl is None else np.asarray(has_smpl, np.float32)
        has = has.reshape(n)
        if keypoints_3d is None:
            keypoints_3d = np.zeros((n, j, 3), np.float32)
            w3d = np.zeros((n, j), np.float32)
        else:
            keypoints_3d = np.asarray(keypoints_3d, np.float32).reshape(n, j, 3)
            w3d = (np.ones((n, j), np.float32) if keypoints_3d_visible is None else
                   np.clip(np.asarray(keypoints_3d_visible, np.float32).reshape(n, j), 0., 1.))
        if keypoints_3d_root is None:
            root = np.zeros((n, j), np.float32)
            root[:, 0] = 1.
        else:
            root = np.asarray(keypoints_3d_root, np.float32).reshape(n, j)
        pose = (np.zeros((n, 72), np.float32) if smpl_pose is None else
                np.asarray(smpl_pose, np.float32).reshape(n, 72))
        betas = (np.zeros((n, 10), np.float32) if smpl_betas is None else
                 np.asarray(smpl_betas, np.float32).reshape(n, -1))
        if smpl_pose is None:
            has = np.zeros(n, np.float32)
        return dict(
            keypoint_labels=labels.astype(np.float32),
            keypoint_weights=weights.astype(np.float32),
            keypoints_3d_label=keypoints_3d.copy(),
            keypoints_3d_weights=w3d.astype(np.float32),
            keypoints_3d_root_label=root.copy(),
            smpl_pose_label=pose.copy(),
            smpl_betas_label=betas.copy(),
            has_smpl_label=has)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Map normalised joints back to input px.

        Args:
            encoded (np.ndarray): Normalised joints in [-1, 1], shape (N, J, 2).

        Returns:
            tuple: ``keypoints`` (N, J, 2) in input px and ``scores`` (N, J) (ones).
        """
        encoded = np.asarray(encoded, np.float32)
        if encoded.ndim != 3 or encoded.shape[-1] != 2:
            raise ValueError(f'SMPLLabelCodec.decode expects (N, J, 2), got {encoded.shape}')
        keypoints = (encoded + 1.) * np.array(self.input_size, np.float32) / 2.
        return keypoints, np.ones(encoded.shape[:2], np.float32)
