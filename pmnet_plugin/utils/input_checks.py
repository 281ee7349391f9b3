"""Image reading and input checks whose failures name the file and the fault.

:func:`read_image` raises :class:`ImageReadError` for a missing, empty or undecodable image (and warns on a
truncated JPEG), :func:`tiny_image_warning` flags images far below the input size, :func:`clip_bboxes`
clips person boxes to the image and :func:`drop_invalid_boxes` also describes the ones it dropped. They sit
below both ``datasets/`` (test images) and ``apis/`` (inference, demo), so neither imports the other.

Note:
    - number of boxes: N
"""
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from mmpose.structures.bbox import bbox_clip_border

logger = logging.getLogger(__name__)
__all__ = [
    'ImageReadError', 'read_image', 'tiny_image_warning', 'clip_bboxes', 'drop_invalid_boxes', 'TINY_IMAGE_SIDE'
]

# images whose shorter side is below this (px) get a warning: the crop is upscaled > 7x to 224 px
TINY_IMAGE_SIDE = 32

# leading bytes of the formats OpenCV reads, to say what a file that fails to decode looks like
_MAGIC = ((b'\xff\xd8\xff', 'JPEG'), (b'\x89PNG', 'PNG'), (b'BM', 'BMP'), (b'II*\x00', 'TIFF'),
          (b'MM\x00*', 'TIFF'), (b'RIFF', 'RIFF/WebP'), (b'GIF8', 'GIF (not supported by OpenCV)'))


class ImageReadError(ValueError):
    """An input image that cannot be read; the message names the file, the fault and the fix."""


def read_image(path: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Reads an image with OpenCV or raises an error that says why it could not.

    Args:
        path (str): Image file.
        flags (int): ``cv2.imread`` flags. Defaults to ``cv2.IMREAD_UNCHANGED``.

    Returns:
        np.ndarray: The image as ``cv2.imread`` returns it (H, W[, C]).

    Raises:
        ImageReadError: The file is missing, empty, or not decodable (corrupt, truncated, another format).
    """
    if not osp.isfile(path):
        raise ImageReadError(f'image {path} does not exist (check the path)')
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise ImageReadError(f'image {path} is empty (0 bytes): the copy or download was interrupted; '
                             'copy it again')
    head = data[:16].tobytes()
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    cut = kind == 'JPEG' and b'\xff\xd9' not in data[-64:].tobytes()  # no JPEG end marker
    img = cv2.imdecode(data, flags)  # imdecode: no OpenCV "check file path" warning on failure
    if img is None or img.size == 0:
        looks = (f'its header says {kind}' if kind else
                 f'its first bytes ({head[:8].hex(" ")}) match no image format OpenCV reads')
        fault = 'the JPEG has no end marker: the file is truncated' if cut else \
            'the file is corrupt or truncated, or not an image'
        raise ImageReadError(
            f'image {path} ({data.size} bytes) exists but OpenCV cannot decode it; {looks}: {fault}. '
            'Re-export or convert it (e.g. to PNG), or remove it from the input.')
    if cut:  # OpenCV 4.x decodes the top part of a truncated JPEG and fills the rest with gray
        logger.warning(f'image {path}: the JPEG has no end marker (truncated); OpenCV decoded what is '
                       'there. Copy the file again for a complete image.')
    return img


def tiny_image_warning(img_shape: Tuple[int, int], input_size: Sequence[int] = (224, 224),
                       name: str = 'image') -> Optional[str]:
    """One warning line when the image's shorter side is below :data:`TINY_IMAGE_SIDE` px.

    Args:
        img_shape (tuple): ``(H, W)``.
        input_size (Sequence[int]): The network input ``(W, H)``.
        name (str): What to call the image in the message.

    Returns:
        str | None: The warning, or None for images of a usable size.
    """
    h, w = int(img_shape[0]), int(img_shape[1])
    if min(h, w) >= TINY_IMAGE_SIDE:
        return None
    factor = max(input_size) / max(min(h, w), 1)
    return (f'{name} is only {w}x{h} px: its crop is upscaled about {factor:.0f}x to the '
            f'{input_size[0]}x{input_size[1]} network input, so the mesh carries little or no '
            f'information; use images with people at least {TINY_IMAGE_SIDE} px tall.')


def clip_bboxes(bboxes: np.ndarray, img_shape: Tuple[int, int],
                min_size: float = 1.0) -> np.ndarray:
    """Clips xyxy boxes (N, 4+) to the image and drops the empty ones.

    Args:
        bboxes (np.ndarray): (N, 4) or (N, 5) boxes ``x1, y1, x2, y2[, score]``.
        img_shape (tuple): ``(H, W)``.
        min_size (float): minimum width and height (px) kept.

    Returns:
        np.ndarray: (M, 4 or 5), M <= N.
    """
    bboxes = np.asarray(bboxes, dtype=np.float32)
    if bboxes.size == 0:
        return bboxes.reshape(0, 4)
    bboxes = bboxes.reshape(len(bboxes), -1).copy()
    h, w = img_shape
    bboxes[:, :4] = bbox_clip_border(bboxes[:, :4], (w, h))
    keep = ((bboxes[:, 2] - bboxes[:, 0]) >= min_size) & \
           ((bboxes[:, 3] - bboxes[:, 1]) >= min_size)
    return bboxes[keep]


def drop_invalid_boxes(boxes: np.ndarray, img_shape: Tuple[int, int],
                       min_size: float = 1.0) -> Tuple[np.ndarray, Optional[str]]:
    """Clips xyxy person boxes to the image and drops non-finite and empty ones, saying which.

    Args:
        boxes (np.ndarray): (N, 4) or (N, 5) ``x1, y1, x2, y2[, score]`` in image px.
        img_shape (tuple): ``(H, W)``.
        min_size (float): Minimum width and height (px) kept after clipping.

    Returns:
        tuple: The kept boxes (M, 4 or 5) and one line describing the dropped ones (None if none).
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, boxes.shape[1] if boxes.ndim == 2 else 4), None
    boxes = boxes.reshape(len(boxes), -1)
    finite = np.isfinite(boxes).all(1)
    kept = clip_bboxes(boxes[finite], img_shape, min_size)
    bad_rows = np.nonzero(~finite)[0].tolist()
    n_empty = int(finite.sum()) - len(kept)
    if not bad_rows and not n_empty:
        return kept, None
    parts = []
    if bad_rows:
        parts.append(f'{len(bad_rows)} with NaN/inf values (rows {bad_rows[:10]})')
    if n_empty:
        parts.append(f'{n_empty} narrower or shorter than {min_size:g} px after clipping to the '
                     f'{img_shape[1]}x{img_shape[0]} image')
    return kept, f'dropped {len(boxes) - len(kept)} of {len(boxes)} person boxes: {"; ".join(parts)}'
