"""People across video frames: box IoU tracking and the per-track record of predictions.

MMPose's inferencers track by IoU of person boxes, greedily (``mmpose.apis.inference_tracking._track_by_iou``).
:class:`IoUTracker` matches the same IoU with the Hungarian algorithm (one optimal assignment per frame instead
of box-by-box greed), and keeps a lost track alive for ``max_age`` frames so that a person missed by the
detector for a few frames keeps the id (our choice; SORT, Bewley et al. 2016, does the same with its
``max_age``).

Note:
    - boxes in a frame: N
    - frames of a track: T
"""
from typing import Dict, List

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['box_iou', 'IoUTracker', 'TrackRecorder']


def _xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64)
    return boxes.reshape(-1, boxes.shape[-1])[:, :4] if boxes.size else np.zeros((0, 4))


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of xyxy boxes.

    Args:
        boxes_a (np.ndarray): (N, 4+) ``x1, y1, x2, y2[, ...]``.
        boxes_b (np.ndarray): (M, 4+).

    Returns:
        np.ndarray: (N, M) IoU in [0, 1].
    """
    a, b = _xyxy(boxes_a), _xyxy(boxes_b)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


class IoUTracker:
    """Gives every person box of a frame a track id, matching it to the last box of each live track.

    Args:
        iou_thr (float): Least IoU for a box to continue a track (MMPose's inferencers use 0.3).
            Defaults to 0.3.
        max_age (int): Frames a track without a box stays matchable. Defaults to 10.
    """

    def __init__(self, iou_thr: float = 0.3, max_age: int = 10) -> None:
        if not 0.0 <= iou_thr <= 1.0:
            raise ValueError(f'iou_thr must be in [0, 1], got {iou_thr}')
        self.iou_thr = iou_thr
        self.max_age = max_age
        self._boxes: Dict[int, np.ndarray] = {}  # track id -> last box (4,)
        self._last_seen: Dict[int, int] = {}
        self._frame = -1
        self._next_id = 0

    def update(self, boxes: np.ndarray) -> np.ndarray:
        """Assigns the boxes of the next frame to tracks.

        Args:
            boxes (np.ndarray): (N, 4+) xyxy boxes of one frame (N may be 0).

        Returns:
            np.ndarray: (N,) int64 track ids; a box that continues no track starts a new id.
        """
        self._frame += 1
        boxes = _xyxy(boxes)
        for tid in [t for t, seen in self._last_seen.items() if self._frame - seen > self.max_age]:
            del self._boxes[tid], self._last_seen[tid]
        ids = np.full(len(boxes), -1, np.int64)
        live = list(self._boxes)
        if len(boxes) and live:
            iou = box_iou(boxes, np.stack([self._boxes[t] for t in live]))
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_thr:
                    ids[r] = live[c]
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._next_id
            self._next_id += 1
        for r, tid in enumerate(ids):
            self._boxes[int(tid)] = boxes[r, :4].copy()
            self._last_seen[int(tid)] = self._frame
        return ids


class TrackRecorder:
    """Collects per-frame, per-person prediction arrays into one sequence per track.

    Args:
        keys (tuple[str]): The arrays to keep (first axis = person), e.g. ``('bboxes', 'smpl_pose', ...)``.
    """

    def __init__(self, keys=('bboxes', 'smpl_pose', 'smpl_betas', 'cam_t_full', 'keypoints_3d')) -> None:
        self.keys = tuple(keys)
        self._rows: Dict[int, List[dict]] = {}

    def add(self, frame: int, track_ids: np.ndarray, arrays: Dict[str, np.ndarray]) -> None:
        """Records the people of one frame.

        Args:
            frame (int): Frame index.
            track_ids (np.ndarray): (N,) track id of each person.
            arrays (dict): Per-person arrays with first axis N (those of ``keys`` present are kept).
        """
        for i, tid in enumerate(np.asarray(track_ids).reshape(-1)):
            row = {k: np.asarray(arrays[k][i]) for k in self.keys if k in arrays}
            row['frame'] = np.int64(frame)
            self._rows.setdefault(int(tid), []).append(row)

    def tracks(self, min_length: int = 1) -> Dict[int, Dict[str, np.ndarray]]:
        """The recorded tracks with at least ``min_length`` frames.

        Returns:
            dict: ``{track id: {'frame': (T,) int64, key: (T, ...) stacked array}}``, in frame order.
        """
        out = {}
        for tid, rows in sorted(self._rows.items()):
            if len(rows) >= min_length:
                keys = [k for k in rows[0] if all(k in r for r in rows)]
                out[tid] = {k: np.stack([r[k] for r in rows]) for k in keys}
        return out
