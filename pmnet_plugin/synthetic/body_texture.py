"""Part-coloured "suit" for rendered bodies: a colour per limb segment, left and right in different hues,
torso front and back apart and a face, so that an image shows which limb is which and whether the body
faces the camera (a flat-coloured body is nearly symmetric front to back).

Parts come from the skinning weights (each vertex's largest), front and back from the rest-pose vertices.
"""
from typing import Dict

import cv2
import numpy as np

# SMPL joint -> RGB in [0, 1]. Left limbs warm, right limbs cool, each segment a different shade.
PART_COLORS: Dict[int, tuple] = {
    1: (0.80, 0.10, 0.45), 4: (0.95, 0.45, 0.70), 7: (0.55, 0.05, 0.20), 10: (0.55, 0.05, 0.20),  # left leg
    2: (0.10, 0.55, 0.20), 5: (0.55, 0.90, 0.30), 8: (0.05, 0.35, 0.30), 11: (0.05, 0.35, 0.30),  # right leg
    16: (0.90, 0.15, 0.10), 18: (1.00, 0.60, 0.10), 20: (0.95, 0.90, 0.20), 22: (0.95, 0.90, 0.20),  # l arm
    17: (0.10, 0.25, 0.90), 19: (0.20, 0.80, 0.95), 21: (0.65, 0.50, 0.95), 23: (0.65, 0.50, 0.95),  # r arm
}
TORSO = (0, 3, 6, 9, 13, 14)
TORSO_FRONT, TORSO_BACK = (0.92, 0.92, 0.88), (0.30, 0.30, 0.34)
HEAD = (12, 15)
FACE, HAIR = (0.96, 0.76, 0.62), (0.18, 0.12, 0.08)


def part_vertex_colors(lbs_weights: np.ndarray, v_template: np.ndarray) -> np.ndarray:
    """Per-vertex colours of the part-coloured suit.

    Args:
        lbs_weights (np.ndarray): Skinning weights (V, 24).
        v_template (np.ndarray): Rest-pose vertices (V, 3), y up, facing +z (SMPL's template).

    Returns:
        np.ndarray: (V, 3) float32 RGB in [0, 1].
    """
    part = np.asarray(lbs_weights).argmax(1)
    verts = np.asarray(v_template, np.float64)
    colors = np.zeros((len(part), 3), np.float32)
    for joint, rgb in PART_COLORS.items():
        colors[part == joint] = rgb
    for joints, front_rgb, back_rgb, margin in ((TORSO, TORSO_FRONT, TORSO_BACK, 0.0),
                                                (HEAD, FACE, HAIR, 0.02)):
        sel = np.isin(part, joints)
        if sel.any():
            front = verts[:, 2] > np.median(verts[sel, 2]) + margin
            colors[sel & front] = front_rgb
            colors[sel & ~front] = back_rgb
    return colors


def jitter_colors(colors: np.ndarray, rng: np.random.Generator, hue_deg: float = 12.0,
                  sat: tuple = (0.7, 1.2), val: tuple = (0.75, 1.15)) -> np.ndarray:
    """One random hue shift / saturation / brightness change for all colours (a different suit per image).

    Args:
        colors (np.ndarray): (V, 3) RGB in [0, 1].
        rng (np.random.Generator): Random generator.
        hue_deg (float): Maximum absolute hue shift in degrees.
        sat (tuple): Saturation factor range.
        val (tuple): Value (brightness) factor range.

    Returns:
        np.ndarray: (V, 3) float32 RGB in [0, 1].
    """
    hsv = cv2.cvtColor(np.asarray(colors, np.float32)[None], cv2.COLOR_RGB2HSV)[0]  # H in [0, 360)
    hsv[:, 0] = (hsv[:, 0] + rng.uniform(-hue_deg, hue_deg)) % 360.0
    hsv[:, 1] = np.clip(hsv[:, 1] * rng.uniform(*sat), 0, 1)
    hsv[:, 2] = np.clip(hsv[:, 2] * rng.uniform(*val), 0, 1)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]
