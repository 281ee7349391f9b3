"""Plausibility of the labels of an annotation file, checked when a dataset loads it.

Labels in another unit or scale (millimetres, degrees) keep every loss finite but huge, so training runs
to the end and learns nothing. :func:`check_label_ranges` raises :class:`LabelRangeError` naming the file,
key, samples and limit; the limits (:data:`LABEL_LIMITS`) are in ``docs/reliability.md``. A box of zero
or negative width or height would train on a blank crop with every 2D label clamped away, so it is refused
too (:class:`DegenerateBoxError`).
"""
from typing import Dict, Optional

import numpy as np

from .humandata import AnnotationError

__all__ = ['LabelRangeError', 'DegenerateBoxError', 'LABEL_LIMITS', 'check_label_ranges', 'check_boxes']

# column -> (limit of |value|, unit, weights column, hint)
LABEL_LIMITS = {
    'keypoints_3d': (100.0, 'metres', 'keypoints_3d_visible', 'labels in millimetres must be divided by 1000'),
    'smpl_pose': (100.0, 'radians', 'has_smpl', 'poses in degrees must be converted to radians'),
    'smpl_betas': (100.0, 'shape coefficients', 'has_smpl', 'SMPL betas are within about +-5'),
    'keypoints': (1e6, 'pixels', 'keypoints_visible', '2D joints are image pixels'),
    'bbox': (1e6, 'pixels', None, 'boxes are image pixels'),
}
MAX_LISTED = 5


class LabelRangeError(AnnotationError):
    """Labels that are not finite or beyond a plausible range (names the file, key and samples)."""


class DegenerateBoxError(LabelRangeError):
    """Person boxes of zero or negative width or height (names the file, field and samples)."""


def _labelled_rows(values: np.ndarray, weights: Optional[np.ndarray]) -> np.ndarray:
    """(N, M) |values| of labelled entries, 0 elsewhere; ``values`` (N, ...), ``weights`` (N,) or (N, J)."""
    n = values.shape[0]
    mags = np.abs(values.astype(np.float64)).reshape(n, -1)
    if weights is None:
        return mags
    w = np.asarray(weights, np.float64).reshape(n, -1)
    if w.shape[1] not in (1, mags.shape[1]):  # per joint: repeat over the coordinates
        w = np.repeat(w, mags.shape[1] // w.shape[1], axis=1)
    return np.where(w > 0, mags, 0.0)


def check_label_ranges(path: str, cols: Dict[str, np.ndarray],
                       limits: Dict[str, tuple] = LABEL_LIMITS) -> None:
    """Raises :class:`LabelRangeError` for labelled values that are not finite or beyond ``limits``.

    Args:
        path (str): The annotation file, for the message.
        cols (dict): Columns of :func:`pmnet_plugin.datasets.humandata.read_annotations` (N samples).
        limits (dict): Column -> ``(limit, unit, weights column or None, hint)``. Defaults to
            :data:`LABEL_LIMITS`.
    """
    check_boxes(path, cols)
    for name, (limit, unit, weight_key, hint) in limits.items():
        values = cols.get(name)
        if values is None or np.asarray(values).size == 0:
            continue
        mags = _labelled_rows(np.asarray(values), cols.get(weight_key) if weight_key else None)
        offending = ~(mags <= limit)  # NaN compares False
        bad_rows = np.flatnonzero(offending.any(axis=1))
        if not len(bad_rows):
            continue
        finite = mags[offending & np.isfinite(mags)]
        worst = f'max |value| {finite.max():.3g}' if finite.size else 'no finite value'
        rows = ', '.join(str(r) for r in bad_rows[:MAX_LISTED])
        more = f' (and {len(bad_rows) - MAX_LISTED} more)' if len(bad_rows) > MAX_LISTED else ''
        first = cols['img_path'][bad_rows[0]] if 'img_path' in cols else '?'
        key = str(cols.get(f'{name}_key', '')) or name
        raise LabelRangeError(
            f'{path}: key {key!r} ({name}, {unit}): {len(bad_rows)} of {mags.shape[0]} samples have '
            f'labels that are not finite or above {limit:g} (rows {rows}{more}; first: {first}; {worst}). '
            f'Are the labels in another unit or scale? {hint[0].upper() + hint[1:]}. Fix or drop these '
            'samples, or set check_labels=False on the dataset to train on them anyway.')


def check_boxes(path: str, cols: Dict[str, np.ndarray]) -> None:
    """Raises :class:`DegenerateBoxError` for boxes (``cols['bbox']``, x1 y1 x2 y2) not wider and taller than 0.

    Args:
        path (str): The annotation file, for the message.
        cols (dict): Columns of :func:`pmnet_plugin.datasets.humandata.read_annotations`.
    """
    boxes = cols.get('bbox')
    if boxes is None or np.asarray(boxes).size == 0:
        return
    boxes = np.asarray(boxes, np.float64).reshape(len(boxes), -1)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bad = np.flatnonzero(~((width > 0) & (height > 0)))
    if not len(bad):
        return
    r = bad[0]
    rows = ', '.join(str(i) for i in bad[:MAX_LISTED])
    more = f' (and {len(bad) - MAX_LISTED} more)' if len(bad) > MAX_LISTED else ''
    first = cols['img_path'][r] if 'img_path' in cols else '?'
    raise DegenerateBoxError(
        f'{path}: field bbox_xywh (or center/scale): {len(bad)} of {len(boxes)} samples have a box of zero or '
        f'negative width or height (rows {rows}{more}; first: sample {r}, {first}, width {width[r]:g}, height '
        f'{height[r]:g} px). Such a sample trains on a blank crop with every 2D label outside it. Fix or drop '
        'these samples, or set check_labels=False on the dataset to train on them anyway.')
