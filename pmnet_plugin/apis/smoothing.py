"""Temporal smoothing of one track's SMPL parameters with the One-Euro filter.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cutoff rises with the
signal's speed: still poses lose their jitter, fast motion keeps little lag. Rotations are filtered in the
continuous 6D representation (Zhou et al., CVPR 2019: the first two matrix columns) and mapped back to
rotation matrices by Gram-Schmidt, so that a filtered value is always a rotation and no axis-angle or
quaternion sign flip can make the filter jump. Shape and translation are filtered as they are. Our choice:
one filter per scalar (each 6D entry, each beta, each translation axis), with time from the frame indices so
that frames without a box (gaps in a track) count as elapsed time.

Note:
    - frames of a track: T
    - SMPL joints: 24
"""
from typing import Dict, Optional

import numpy as np
import torch

from pmnet_plugin.utils.rotation import (axis_angle_to_matrix, matrix_to_axis_angle,
                                         matrix_to_rot6d, rot6d_to_matrix)

__all__ = ['one_euro_filter', 'smooth_smpl_track']


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro_filter(x: np.ndarray,
                    times: Optional[np.ndarray] = None,
                    min_cutoff: float = 1.0,
                    beta: float = 0.0,
                    d_cutoff: float = 1.0) -> np.ndarray:
    """Runs a One-Euro filter along the first axis of ``x``, each other entry on its own.

    Args:
        x (np.ndarray): (T, ...) samples.
        times (np.ndarray, optional): (T,) increasing sample times, seconds. Defaults to ``arange(T)``.
        min_cutoff (float): Cutoff at rest, Hz: lower smooths more. Defaults to 1.
        beta (float): Cutoff increase per unit of speed: higher lags less on fast motion. Defaults to 0.
        d_cutoff (float): Cutoff of the speed estimate, Hz. Defaults to 1.

    Returns:
        np.ndarray: (T, ...) filtered samples (the first one unchanged), float64.
    """
    x = np.asarray(x, np.float64)
    times = np.arange(len(x), dtype=np.float64) if times is None else np.asarray(times, np.float64)
    if len(times) != len(x):
        raise ValueError(f'times has {len(times)} entries for {len(x)} samples')
    if min_cutoff <= 0 or d_cutoff <= 0:
        raise ValueError(f'min_cutoff and d_cutoff must be > 0, got {min_cutoff}, {d_cutoff}')
    out = np.empty_like(x)
    if not len(x):
        return out
    out[0] = x[0]
    dx_hat = np.zeros_like(x[0])
    for t in range(1, len(x)):
        dt = times[t] - times[t - 1]
        if dt <= 0:
            raise ValueError(f'times must increase, got {times[t - 1]} then {times[t]}')
        dx = (x[t] - out[t - 1]) / dt
        a_d = _alpha(np.float64(d_cutoff), dt)
        dx_hat = a_d * dx + (1 - a_d) * dx_hat
        a = _alpha(min_cutoff + beta * np.abs(dx_hat), dt)
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def smooth_smpl_track(track: Dict[str, np.ndarray],
                      fps: float = 30.0,
                      min_cutoff: float = 0.5,
                      beta: float = 0.7,
                      d_cutoff: float = 1.0) -> Dict[str, np.ndarray]:
    """Smooths the SMPL parameters of one track over time.

    Args:
        track (dict): ``frame`` (T,) frame indices, ``smpl_pose`` (T, 72) axis-angle, and optionally
            ``smpl_betas`` (T, 10) and ``cam_t_full`` (T, 3) (a :class:`~.tracking.TrackRecorder` track).
        fps (float): Frames per second (times are ``frame / fps``). Defaults to 30.
        min_cutoff, beta, d_cutoff (float): One-Euro parameters (:func:`one_euro_filter`); the defaults
            (0.5 Hz, 0.7) were chosen on rendered clips kept apart from the reported ones (docs/demo.md).

    Returns:
        dict: a copy of ``track`` with ``smpl_pose`` (T, 72), ``smpl_betas`` and ``cam_t_full`` filtered
        (float32).
    """
    out = dict(track)
    times = np.asarray(track['frame'], np.float64) / fps
    kwargs = dict(times=times, min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
    pose = torch.as_tensor(np.asarray(track['smpl_pose'], np.float64)).reshape(len(times), -1, 3)
    rot6d = matrix_to_rot6d(axis_angle_to_matrix(pose)).numpy()  # (T, 24, 6)
    mats = rot6d_to_matrix(torch.from_numpy(one_euro_filter(rot6d, **kwargs)))
    out['smpl_pose'] = matrix_to_axis_angle(mats).reshape(len(times), -1).numpy().astype(np.float32)
    for key in ('smpl_betas', 'cam_t_full'):
        if key in track:
            out[key] = one_euro_filter(track[key], **kwargs).astype(np.float32)
    return out
