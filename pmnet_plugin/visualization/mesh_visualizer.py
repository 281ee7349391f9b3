"""MeshVisualizer: SMPL mesh overlay + side view next to the 2D skeletons of PoseDataSamples.

The skeletons and boxes are drawn by :class:`~pmnet_plugin.compat.pose_visualizer.PoseKeypointVisualizer` (the
``PoseLocalVisualizer`` interface that ``PoseVisualizationHook`` and the demo call); this class adds the
mesh panels and ``add_datasample`` with ``PoseLocalVisualizer``'s arguments.

Note:
    - instances: N, SMPL joints: J = 24, vertices: V = 6890
"""
from typing import Dict, Optional, Tuple

import numpy as np
from mmengine.dist import master_only
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample
from mmpose.structures.bbox import bbox_xyxy2cs

from pmnet_plugin.compat.pose_visualizer import PoseKeypointVisualizer
from pmnet_plugin.utils.camera import DEFAULT_FOCAL, crop_cam_to_image
from pmnet_plugin.utils.tensor_utils import to_numpy


def crop_params(data_sample: PoseDataSample,
                instances: InstanceData,
                bbox_padding: float = 1.25) -> Tuple[np.ndarray, np.ndarray]:
    """Crop centre and size (image px) of every instance.

    Taken from the instances' ``input_center``/``input_scale`` (set by ``inference_mesh``), else the sample's
    metainfo, else the boxes padded by ``bbox_padding`` into squares (``GetBBoxCenterScale``'s default).

    Args:
        data_sample (PoseDataSample): The sample (metainfo).
        instances (InstanceData): N instances.
        bbox_padding (float): Padding of the last fallback.

    Returns:
        tuple: Centres (N, 2) and sizes (N, 2).
    """
    n = len(instances)
    if 'input_center' in instances and 'input_scale' in instances:
        return (to_numpy(instances.input_center).reshape(n, 2),
                to_numpy(instances.input_scale).reshape(n, 2))
    meta = data_sample.metainfo
    if n == 1 and 'input_center' in meta and 'input_scale' in meta:
        return (np.asarray(meta['input_center'], np.float64).reshape(1, 2),
                np.asarray(meta['input_scale'], np.float64).reshape(1, 2))
    if 'bboxes' in instances:
        center, scale = bbox_xyxy2cs(to_numpy(instances.bboxes).reshape(n, 4), padding=bbox_padding)
        size = scale.max(axis=1, keepdims=True)
        return center, np.repeat(size, 2, axis=1)
    raise KeyError('no crop information (input_center/input_scale or bboxes) in the sample')


@VISUALIZERS.register_module()
class MeshVisualizer(PoseKeypointVisualizer):
    """Draws predicted SMPL meshes (overlay + side view) next to the SMPL-24 skeletons.

    Args:
        name (str): instance name. Defaults to ``'visualizer'``.
        mesh_color (tuple): RGB of the mesh in [0, 1].
        focal_length (float): focal (px) of the ``input_size`` crop (SPIN: 5000 for 224).
        side_view (bool): add the side-view panel. Defaults to ``True``.
        side_background (tuple): RGB background of the side view.
        input_size (tuple, optional): network input ``(W, H)`` when metainfo lacks it.
        renderer (dict, optional): kwargs for ``MeshRenderer`` (built on first use).
        smpl_model_path (str, optional): SMPL file whose faces are rendered when neither
            :meth:`set_faces` nor ``dataset_meta['faces']`` provided them (the
            ``tools/test.py --show-dir`` path).
        **kwargs: :class:`PoseKeypointVisualizer`'s arguments (backends, colours, skeleton, line width...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 mesh_color: Tuple[float, float, float] = (0.65, 0.74, 0.86),
                 focal_length: float = DEFAULT_FOCAL,
                 side_view: bool = True,
                 side_background: Tuple[int, int, int] = (255, 255, 255),
                 input_size: Optional[Tuple[int, int]] = None,
                 renderer: Optional[Dict] = None,
                 smpl_model_path: Optional[str] = None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.mesh_color = tuple(mesh_color)
        self.focal_length = focal_length
        self.side_view = side_view
        self.side_background = tuple(side_background)
        self.input_size = input_size
        self.renderer_cfg = dict(renderer or {})
        self._renderer = None
        self.faces: Optional[np.ndarray] = None
        self.smpl_model_path = smpl_model_path

    # ------------------------------------------------------------------ meta
    def set_dataset_meta(self, dataset_meta: Dict, skeleton_style: str = 'mmpose') -> None:
        """Takes colours and skeleton from a dataset metainfo, and the mesh triangles from its ``faces``.

        Args:
            dataset_meta (dict): parsed metainfo; ``faces`` (F, 3) may be included.
            skeleton_style (str): see :meth:`PoseKeypointVisualizer.set_dataset_meta`.
        """
        super().set_dataset_meta(dataset_meta, skeleton_style)
        if isinstance(dataset_meta, dict) and dataset_meta.get('faces') is not None:
            self.faces = np.asarray(dataset_meta['faces'], dtype=np.int64)

    def set_faces(self, faces: np.ndarray) -> None:
        """Sets the mesh triangles (F, 3) used for rendering (``body_model.faces``)."""
        self.faces = np.asarray(faces, dtype=np.int64)

    def _get_faces(self) -> np.ndarray:
        """Faces (F, 3): set_faces > dataset_meta['faces'] > the ``smpl_model_path`` file."""
        if self.faces is None and self.dataset_meta.get('faces') is not None:
            self.faces = np.asarray(self.dataset_meta['faces'], dtype=np.int64)
        if self.faces is None and self.smpl_model_path:
            from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
            self.faces = np.asarray(load_smpl_model_file(self.smpl_model_path)['f'],
                                    dtype=np.int64)
        if self.faces is None:
            raise ValueError('MeshVisualizer needs mesh faces: call set_faces(body.faces), '
                             "put 'faces' into dataset_meta or pass smpl_model_path")
        return self.faces

    @property
    def renderer(self):
        """The ``MeshRenderer`` (pyrender; OSMesa on CPU), built on first use."""
        if self._renderer is None:
            from pmnet_plugin.visualization.renderer import MeshRenderer
            self._renderer = MeshRenderer(**self.renderer_cfg)
        return self._renderer

    # --------------------------------------------------------------- drawing
    def draw_meshes(self, image: np.ndarray, data_sample: PoseDataSample,
                    instances: InstanceData) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Renders every instance's mesh over the image and in a side view.

        Each body is rendered with the perspective camera equivalent to its weak-perspective
        ``cam`` in its crop (:func:`crop_cam_to_image`), farthest first (a body's depth
        in a shared camera is proportional to ``1 / (crop size * s)``).

        Args:
            image (np.ndarray): RGB (H, W, 3) uint8.
            data_sample (PoseDataSample): for metainfo (``input_size``, crop).
            instances (InstanceData): ``vertices`` (N, V, 3), ``cam`` (N, 3).

        Returns:
            tuple: overlay RGB (H, W, 3), side view RGB (H, W, 3), mesh mask (H, W) bool.
        """
        h, w = image.shape[:2]
        overlay = np.ascontiguousarray(image.copy())
        side = np.full_like(overlay, self.side_background, dtype=np.uint8)
        mask = np.zeros((h, w), bool)
        if 'vertices' not in instances or 'cam' not in instances or len(instances) == 0:
            return overlay, side, mask
        faces = self._get_faces()
        n = len(instances)
        verts = to_numpy(instances.vertices).reshape(n, -1, 3).astype(np.float64)
        cams = to_numpy(instances.cam).reshape(n, 3).astype(np.float64)
        center, scale = crop_params(data_sample, instances)
        input_size = data_sample.metainfo.get('input_size', self.input_size or (224, 224))
        focal, princpt, transl = crop_cam_to_image(cams, center, scale, input_size,
                                                   self.focal_length)
        order = np.argsort(scale[:, 0] * np.clip(cams[:, 0], 1e-3, None), kind='stable')
        for i in order:  # far to near: nearer bodies are painted last
            if not (np.isfinite(verts[i]).all() and np.isfinite(transl[i]).all()):
                continue
            v_cam = verts[i] + transl[i]
            kwargs = dict(focal=float(focal[i]), princpt=tuple(float(p) for p in princpt[i]),
                          color=self.mesh_color)
            overlay, m = self.renderer.render(v_cam, faces, img=overlay, **kwargs)
            mask |= m.astype(bool)
            if self.side_view:
                side, _ = self.renderer.render(v_cam, faces, img=side, side_view=True, **kwargs)
        return overlay, side, mask

    def draw_pred_panels(self, image: np.ndarray, data_sample: PoseDataSample,
                         kpt_thr: float = 0.3, show_kpt_idx: bool = False,
                         draw_bbox: bool = True) -> Dict[str, np.ndarray]:
        """The prediction panels of one image (each RGB (H, W, 3) uint8).

        Args:
            image (np.ndarray): RGB (H, W, 3) uint8.
            data_sample (PoseDataSample): With ``pred_instances`` (possibly empty).
            kpt_thr (float): Keypoint score threshold.
            show_kpt_idx (bool): Write joint indices.
            draw_bbox (bool): Draw boxes and prototype labels on the keypoint panel.

        Returns:
            dict: ``keypoints`` (skeletons + boxes), ``overlay`` (meshes over the image), ``side`` (side
            view), ``mask`` (H, W) bool mesh pixels of the overlay.
        """
        pred = data_sample.get('pred_instances', InstanceData())
        kpt_img = self.draw_instances_kpts(image, pred, kpt_thr, show_kpt_idx)
        if draw_bbox:
            kpt_img = self.draw_instances_bbox(kpt_img, pred)
        overlay, side, mask = self.draw_meshes(image, data_sample, pred)
        return dict(keypoints=kpt_img, overlay=overlay, side=side, mask=mask)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: PoseDataSample,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       draw_heatmap: bool = False,
                       draw_bbox: bool = False,
                       show_kpt_idx: bool = False,
                       skeleton_style: str = 'mmpose',
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       kpt_thr: float = 0.3,
                       step: int = 0) -> np.ndarray:
        """Draws a sample: [GT keypoints |] predicted keypoints | mesh overlay | side view.

        The signature of ``PoseLocalVisualizer.add_datasample``. GT meshes are not drawn (GT holds SMPL
        parameters, not vertices).

        Args:
            name (str): Image identifier.
            image (np.ndarray): RGB (H, W, 3) uint8.
            data_sample (PoseDataSample): With ``pred_instances`` (and ``gt_instances``).
            draw_gt (bool): Draw the GT keypoint panel.
            draw_pred (bool): Draw the predictions.
            draw_heatmap (bool): Ignored (mesh heads have no heatmaps).
            draw_bbox (bool): Draw boxes and prototype labels.
            show_kpt_idx (bool): Write joint indices.
            skeleton_style (str): Ignored (SMPL-24 has one style).
            show (bool): Show in a window.
            wait_time (float): Show interval in seconds.
            out_file (str, optional): Save the drawn image instead of sending it to the backends.
            kpt_thr (float): Keypoint score threshold.
            step (int): Global step.

        Returns:
            np.ndarray: The drawn RGB image (H, W * panels, 3).
        """
        image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
        panels = []
        if draw_gt and 'gt_instances' in data_sample and \
                'keypoints' in data_sample.gt_instances:
            gt = self.draw_instances_kpts(image, data_sample.gt_instances, kpt_thr, show_kpt_idx)
            if draw_bbox:
                gt = self.draw_instances_bbox(gt, data_sample.gt_instances)
            panels.append(gt)
        if draw_pred and 'pred_instances' in data_sample:
            pred = self.draw_pred_panels(image, data_sample, kpt_thr, show_kpt_idx, draw_bbox)
            panels.append(pred['keypoints'])
            if 'vertices' in data_sample.pred_instances:
                panels.append(pred['overlay'])
                if self.side_view:
                    panels.append(pred['side'])
        drawn = np.concatenate(panels, axis=1) if panels else image.copy()
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
        return self.get_image()
