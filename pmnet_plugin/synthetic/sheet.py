"""Drawing for looking at generated data: skeletons and labelled image grids."""
from typing import Optional, Sequence

import cv2
import numpy as np

from ..models.body_models.constants import SMPL_JOINT_NAMES, SMPL_PARENTS

_LEFT = tuple(j for j, name in enumerate(SMPL_JOINT_NAMES) if name.startswith('left_'))
_RIGHT = tuple(j for j, name in enumerate(SMPL_JOINT_NAMES) if name.startswith('right_'))


def draw_skeleton(img: np.ndarray, keypoints: np.ndarray, radius: int = 2) -> np.ndarray:
    """Draw SMPL-24 joints and bones (left side red, right side blue, spine green).

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB.
        keypoints (np.ndarray): (24, 2+) px.
        radius (int): joint radius. Defaults to 2.

    Returns:
        np.ndarray: (H, W, 3) uint8 copy with the skeleton.
    """
    out = np.ascontiguousarray(img).copy()
    pts = np.round(np.asarray(keypoints)[:, :2]).astype(int)
    for j, parent in enumerate(SMPL_PARENTS):
        color = (255, 60, 60) if j in _LEFT else (60, 60, 255) if j in _RIGHT else (60, 220, 60)
        if parent >= 0:
            cv2.line(out, tuple(pts[parent]), tuple(pts[j]), color, 1, cv2.LINE_AA)
        cv2.circle(out, tuple(pts[j]), radius, color, -1, cv2.LINE_AA)
    return out


def pick(clips: np.ndarray, is_rare: np.ndarray, num: int) -> np.ndarray:
    """``num // 2`` common then ``num - num // 2`` rare indices, cycling through clips for variety."""
    chosen = []
    for want, group in ((num // 2, ~is_rare), (num - num // 2, is_rare)):
        by_clip = [list(np.flatnonzero(group & (clips == c))) for c in np.unique(clips[group])]
        taken = []
        while len(taken) < want and any(by_clip):
            for lst in by_clip:
                if lst and len(taken) < want:
                    taken.append(lst.pop(0))
        chosen += taken
    return np.asarray(chosen, np.int64)


def tile(images: Sequence[np.ndarray], labels: Optional[Sequence[str]] = None, cols: int = 4,
         pad: int = 2) -> np.ndarray:
    """Grid of equally sized RGB images with an optional label in the top-left corner of each.

    Args:
        images (Sequence[np.ndarray]): each (H, W, 3) uint8.
        labels (Sequence[str], optional): one per image.
        cols (int): Defaults to 4.
        pad (int): white border, px. Defaults to 2.

    Returns:
        np.ndarray: (rows * (H + pad), cols * (W + pad), 3) uint8.
    """
    height, width = images[0].shape[:2]
    rows = -(-len(images) // cols)
    sheet = np.full((rows * (height + pad), cols * (width + pad), 3), 255, np.uint8)
    for i, img in enumerate(images):
        cell = np.ascontiguousarray(img[..., :3]).copy()
        if labels is not None:
            cv2.putText(cell, str(labels[i]), (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3,
                        cv2.LINE_AA)
            cv2.putText(cell, str(labels[i]), (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                        cv2.LINE_AA)
        r, c = divmod(i, cols)
        top, left = r * (height + pad), c * (width + pad)
        sheet[top:top + height, left:left + width] = cell
    return sheet
