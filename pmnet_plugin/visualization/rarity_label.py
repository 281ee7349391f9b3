"""The "rare pose (top x %)" label of predictions whose rarity percentile passes a threshold."""
from typing import List, Optional

import cv2
import numpy as np

from pmnet_plugin.utils.tensor_utils import to_numpy

__all__ = ['rarity_label', 'draw_rarity_labels']


def rarity_label(percentile: float, threshold: float) -> Optional[str]:
    """``'rare pose (top x %)'`` when ``percentile >= threshold``, else None (also for NaN).

    Args:
        percentile (float): Rarity percentile among the training poses, in [0, 100].
        threshold (float): Smallest percentile that is labelled.

    Returns:
        str | None: The label; ``x = 100 - percentile``, at least 0.1.
    """
    if not np.isfinite(percentile) or percentile < threshold:
        return None
    return f'rare pose (top {max(100.0 - float(percentile), 0.1):.1f} %)'


def draw_rarity_labels(image: np.ndarray, instances, threshold: float = 90.0,
                       color=(255, 64, 64)) -> np.ndarray:
    """Writes the label of every rare person above its box.

    Args:
        image (np.ndarray): RGB (H, W, 3) uint8.
        instances (InstanceData): ``bboxes`` (N, 4) xyxy and ``rarity_percentile`` (N,).
        threshold (float): See :func:`rarity_label`. Defaults to 90 (the rarest 10 %).
        color (tuple): RGB text colour.

    Returns:
        np.ndarray: A copy with the labels; ``image`` unchanged when no person is labelled.
    """
    if 'bboxes' not in instances or 'rarity_percentile' not in instances:
        return image
    boxes = to_numpy(instances.bboxes).reshape(-1, 4)
    pct = to_numpy(instances.rarity_percentile).reshape(-1)
    labels: List = [rarity_label(p, threshold) for p in pct]
    if not any(labels):
        return image
    img = np.ascontiguousarray(image.copy())
    font = max(0.4, min(img.shape[:2]) / 700)
    thick = max(1, int(2 * font))
    for box, label in zip(boxes, labels):
        if label is None:
            continue
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        x = int(np.clip(box[0], 0, max(img.shape[1] - tw, 0)))
        y = int(box[1]) - base - 2
        if y - th < 0:  # no room above the box: inside its top edge
            y = int(box[1]) + th + 2
        cv2.rectangle(img, (x, y - th - 2), (x + tw + 2, y + base), (0, 0, 0), -1)
        cv2.putText(img, label, (x + 1, y), cv2.FONT_HERSHEY_SIMPLEX, font, color, thick, cv2.LINE_AA)
    return img
