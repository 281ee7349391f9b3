"""Errors of predictions over video frames: acceleration error and identity switches.

Note:
    - frames: T, joints: J, ground-truth people: P
"""
import numpy as np

__all__ = ['accel_error', 'id_switches']


def accel_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Acceleration error per frame, as VIBE (Kocabas et al., CVPR 2020) and TCMR compute it.

    The acceleration of every joint is its second difference ``x[t-1] - 2 x[t] + x[t+1]``; the error of a
    frame is the mean over joints of the distance between predicted and true acceleration
    (``compute_error_accel`` of VIBE's ``eval_utils.py``, without its visibility mask). Pass pelvis-aligned
    joints in mm to get mm/frame^2.

    Args:
        pred (np.ndarray): (T, J, 3) predicted joints of one person in consecutive frames.
        gt (np.ndarray): (T, J, 3) true joints.

    Returns:
        np.ndarray: (T - 2,) error per inner frame.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f'pred and gt must both be (T, J, 3), got {pred.shape} and {gt.shape}')
    acc_pred = pred[:-2] - 2 * pred[1:-1] + pred[2:]
    acc_gt = gt[:-2] - 2 * gt[1:-1] + gt[2:]
    return np.linalg.norm(acc_pred - acc_gt, axis=-1).mean(-1)


def id_switches(track_of_gt: np.ndarray) -> int:
    """Identity switches (CLEAR MOT, Bernardin and Stiefelhagen 2008): how often the track that covers a
    true person changes from its previous covered frame.

    Args:
        track_of_gt (np.ndarray): (T, P) track id matched to each true person per frame, -1 when none.

    Returns:
        int: The number of switches over all people.
    """
    track_of_gt = np.asarray(track_of_gt).reshape(len(track_of_gt), -1)
    switches = 0
    for column in track_of_gt.T:
        ids = column[column >= 0]
        switches += int(np.count_nonzero(ids[1:] != ids[:-1]))
    return switches
