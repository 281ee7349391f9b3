"""Cameras of the crop-based mesh models: the weak-perspective crop camera ``cam = (s, tx, ty)`` as a
perspective camera of the image (one per body, or one shared by all bodies).

Note:
    - number of bodies: N
"""
from typing import Sequence, Tuple

import numpy as np

__all__ = ['DEFAULT_FOCAL', 'crop_cam_to_image', 'crop_cam_to_full']

# SPIN's rendering focal length for a 224 px crop (see docs/design.md).
DEFAULT_FOCAL = 5000.0


def crop_cam_to_image(cam: np.ndarray, center: np.ndarray, scale: np.ndarray,
                      input_size: Sequence[int] = (224, 224),
                      focal: float = DEFAULT_FOCAL) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turns the weak-perspective crop camera into a perspective camera of the image, as in SPIN.

    A pinhole camera with focal ``f * scale_w / W`` px, principal point ``center`` and translation
    ``(tx, ty, 2 f / (W s))`` projects the body where the crop camera does (``docs/design.md``). Scales are
    clipped to >= 1e-3, so untrained models still give a finite camera.

    Args:
        cam (np.ndarray): (N, 3) ``(s, tx, ty)``.
        center (np.ndarray): (N, 2) crop centres in image px.
        scale (np.ndarray): (N, 2) crop sizes ``(w, h)`` in image px.
        input_size (Sequence[int]): Network input ``(W, H)``.
        focal (float): Focal length (px) for the ``W``-px crop.

    Returns:
        tuple: ``focal_img`` (N,) px, ``princpt`` (N, 2) px, ``transl`` (N, 3) metres.
    """
    cam = np.asarray(cam, dtype=np.float64).reshape(-1, 3)
    s = np.clip(cam[:, 0], 1e-3, None)
    w_in = float(input_size[0])
    transl = np.stack([cam[:, 1], cam[:, 2], 2 * focal / (w_in * s)], axis=1)
    focal_img = focal * np.asarray(scale, dtype=np.float64).reshape(-1, 2)[:, 0] / w_in
    return focal_img, np.asarray(center, dtype=np.float64).reshape(-1, 2), transl


def crop_cam_to_full(cam: np.ndarray, center: np.ndarray, scale: np.ndarray,
                     img_shape: Tuple[int, int], input_size: Sequence[int] = (224, 224),
                     focal: float = DEFAULT_FOCAL) -> Tuple[float, np.ndarray]:
    """Translation of each body in ONE camera of the whole image (4D-Humans' cam_crop_to_full).

    Args:
        cam (np.ndarray): (N, 3) ``(s, tx, ty)``.
        center (np.ndarray): (N, 2) crop centres (px).
        scale (np.ndarray): (N, 2) crop sizes (px).
        img_shape (tuple): ``(H, W)`` of the image.
        input_size (Sequence[int]): network input ``(W, H)``.
        focal (float): focal length for the ``W``-px crop; the image focal is
            ``focal / W * max(H, W)`` with the principal point at the image centre.

    Returns:
        tuple: ``focal_full`` (float, px) and ``transl_full`` (N, 3) metres.
    """
    h, w = img_shape
    focal_full = focal / float(input_size[0]) * max(h, w)
    cam = np.asarray(cam, dtype=np.float64).reshape(-1, 3)
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    bs = np.asarray(scale, dtype=np.float64).reshape(-1, 2)[:, 0] * np.clip(
        cam[:, 0], 1e-3, None)
    transl = np.stack([
        cam[:, 1] + 2 * (center[:, 0] - w / 2.) / bs,
        cam[:, 2] + 2 * (center[:, 1] - h / 2.) / bs,
        2 * focal_full / bs], axis=1)
    return focal_full, transl
