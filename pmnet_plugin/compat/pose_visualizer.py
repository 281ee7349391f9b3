"""Keypoint and box drawing with the interface of MMPose's ``PoseLocalVisualizer``.

``mmpose.visualization`` needs torchvision, so ``PoseLocalVisualizer`` can be neither imported nor
subclassed here. :class:`PoseKeypointVisualizer` implements the parts that ``PoseVisualizationHook`` and
the demo use, with OpenCV (``docs/demo.md``).

Note:
    - instances: N, keypoints: J
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

from pmnet_plugin.utils.tensor_utils import to_numpy

Color = Union[str, Tuple[int, int, int]]


def _color_list(color, n: int) -> List:
    """Expands a colour spec (None, name, (3,), or (n, 3)) into n per-item BGR/RGB tuples."""
    if color is None or isinstance(color, str):
        return [color] * n
    arr = np.asarray(color)
    if arr.ndim == 1:
        return [tuple(int(c) for c in arr)] * n
    if len(arr) != n:
        raise ValueError(f'{len(arr)} colours for {n} items')
    return [tuple(int(c) for c in row) for row in arr]


def _named_rgb(color) -> Tuple[int, int, int]:
    """RGB tuple of a colour name or tuple (matplotlib names)."""
    if isinstance(color, str):
        from matplotlib.colors import to_rgb
        return tuple(int(round(255 * c)) for c in to_rgb(color))
    return tuple(int(c) for c in color)


class PoseKeypointVisualizer(Visualizer):
    """Draws skeletons, keypoints and person boxes (``PoseLocalVisualizer``'s options and drawing calls).

    Args:
        name (str): instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): image to draw on.
        vis_backends (list[dict], optional): mmengine visualisation backends.
        save_dir (str, optional): where backends save.
        bbox_color (Color): box colour. Defaults to ``'green'``.
        kpt_color (Color | np.ndarray): keypoint colours (overridden by dataset_meta).
        link_color (Color | np.ndarray, optional): link colours (overridden by dataset_meta).
        text_color (Color): text colour.
        skeleton (Sequence, optional): links (overridden by dataset_meta).
        line_width (int): line width.
        radius (int): keypoint radius.
        show_keypoint_weight (bool): unused, kept for PoseLocalVisualizer compatibility.
        backend (str): accepted for PoseLocalVisualizer compatibility; drawing uses OpenCV.
        alpha (float): keypoint transparency.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 bbox_color: Color = 'green',
                 kpt_color: Union[Color, np.ndarray] = 'red',
                 link_color: Optional[Union[Color, np.ndarray]] = None,
                 text_color: Color = (255, 255, 255),
                 skeleton: Optional[Sequence] = None,
                 line_width: int = 2,
                 radius: int = 3,
                 show_keypoint_weight: bool = False,
                 backend: str = 'opencv',
                 alpha: float = 1.0):
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        self.backend = backend  # drawing is always OpenCV here; kept for config compatibility
        self.bbox_color = bbox_color
        self.kpt_color = kpt_color
        self.link_color = link_color
        self.text_color = text_color
        self.skeleton = skeleton
        self.line_width = line_width
        self.radius = radius
        self.show_keypoint_weight = show_keypoint_weight
        self.alpha = alpha
        self.dataset_meta: Dict = {}

    def set_dataset_meta(self, dataset_meta: Dict, skeleton_style: str = 'mmpose') -> None:
        """Takes colours and skeleton from a dataset metainfo (like PoseLocalVisualizer).

        Args:
            dataset_meta (dict): parsed metainfo.
            skeleton_style (str): only ``'mmpose'`` is supported (SMPL-24 has no openpose
                style); other values fall back to it.
        """
        if isinstance(dataset_meta, dict):
            self.dataset_meta = dataset_meta.copy()
            self.bbox_color = dataset_meta.get('bbox_color', self.bbox_color)
            self.kpt_color = dataset_meta.get('keypoint_colors', self.kpt_color)
            self.link_color = dataset_meta.get('skeleton_link_colors', self.link_color)
            self.skeleton = dataset_meta.get('skeleton_links', self.skeleton)
        if self.dataset_meta is None:
            self.dataset_meta = {}

    def draw_instances_kpts(self, image: np.ndarray, instances: InstanceData,
                            kpt_thr: float = 0.3, show_kpt_idx: bool = False) -> np.ndarray:
        """Draws skeletons and keypoints (image px) of N instances.

        Args:
            image (np.ndarray): RGB (H, W, 3) uint8.
            instances (InstanceData): with ``keypoints`` (N, J, 2) and optionally
                ``keypoint_scores``/``keypoints_visible`` (N, J).
            kpt_thr (float): minimum score drawn.
            show_kpt_idx (bool): write joint indices.

        Returns:
            np.ndarray: RGB (H, W, 3) uint8.
        """
        img = np.ascontiguousarray(image.copy())
        if 'keypoints' not in instances:
            return img
        keypoints_all = to_numpy(instances.get('transformed_keypoints', instances.keypoints))
        keypoints_all = keypoints_all.reshape(len(keypoints_all), -1, keypoints_all.shape[-1])[..., :2]
        vis_key = 'keypoints_visible' if 'keypoints_visible' in instances else \
            'keypoint_scores' if 'keypoint_scores' in instances else None
        vis_all = to_numpy(instances.get(vis_key)).reshape(keypoints_all.shape[:2]) if vis_key \
            else np.ones(keypoints_all.shape[:2])
        k = keypoints_all.shape[1]
        kpt_colors = [_named_rgb(c) if c is not None else None
                      for c in _color_list(self.kpt_color, k)]
        links = [tuple(link) for link in (self.skeleton or [])]
        link_colors = [_named_rgb(c) if c is not None else None
                       for c in _color_list(self.link_color if self.link_color is not None
                                            else (255, 255, 255), len(links))]
        h, w = img.shape[:2]
        for keypoints, vis in zip(keypoints_all, vis_all):
            if not np.isfinite(keypoints).all():
                continue
            for (a, b), color in zip(links, link_colors):
                if color is None or max(a, b) >= k or min(vis[a], vis[b]) < kpt_thr:
                    continue
                p1, p2 = tuple(int(v) for v in keypoints[a]), tuple(int(v) for v in keypoints[b])
                if not all(0 <= p[0] < w and 0 <= p[1] < h for p in (p1, p2)):
                    continue
                cv2.line(img, p1, p2, color, self.line_width, cv2.LINE_AA)
            for j, (pt, color) in enumerate(zip(keypoints, kpt_colors)):
                if color is None or vis[j] < kpt_thr:
                    continue
                center = tuple(int(v) for v in pt)
                cv2.circle(img, center, self.radius, color, -1, cv2.LINE_AA)
                if show_kpt_idx:
                    cv2.putText(img, str(j), (center[0] + self.radius, center[1] - self.radius),
                                cv2.FONT_HERSHEY_SIMPLEX, 0.3, color, 1, cv2.LINE_AA)
        return img

    def draw_instances_bbox(self, image: np.ndarray, instances: InstanceData) -> np.ndarray:
        """Draws ``bboxes`` (N, 4) xyxy and, for PM-Net, ``proto #id score`` labels."""
        img = np.ascontiguousarray(image.copy())
        if 'bboxes' not in instances:
            return img
        color = _named_rgb(self.bbox_color if not isinstance(self.bbox_color, np.ndarray)
                           else tuple(self.bbox_color))
        text_color = _named_rgb(self.text_color)
        boxes = to_numpy(instances.bboxes).reshape(-1, 4)
        pid = to_numpy(instances.proto_id).reshape(-1) if 'proto_id' in instances else None
        psc = to_numpy(instances.proto_score).reshape(-1) if 'proto_score' in instances \
            else None
        font = max(0.4, min(img.shape[:2]) / 700)  # readable on large images too
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(img, (x1, y1), (x2, y2), color, self.line_width)
            if pid is not None:
                label = f'proto {int(pid[i])}' + (f' {psc[i]:.2f}' if psc is not None else '')
                cv2.putText(img, label, (x1 + 2, y1 + int(30 * font)), cv2.FONT_HERSHEY_SIMPLEX,
                            font, text_color, max(1, int(2 * font)), cv2.LINE_AA)
        return img
