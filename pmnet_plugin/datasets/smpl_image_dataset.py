"""Top-down dataset of single-person crops with 2D/3D joints of a joint set and SMPL parameters."""
import os.path as osp
import warnings
from copy import copy
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_overlaps, bbox_xywh2xyxy

from pmnet_plugin.utils.paths import config_dir
from pmnet_plugin.utils.safe_pickle import load_data_file
from .humandata import read_annotations
from .image_checks import load_test_sample
from .keypoint_conventions import get_keypoint_names
from .label_checks import check_label_ranges
from .supervision import check_claims, format_report, joint_set_metainfo, scatter_row, to_joint_set

# in the installed package (pmnet_plugin/.mim/configs) or the checkout (configs/), pmnet_plugin.utils.paths
SMPL24_METAINFO_FILE = osp.join(config_dir(), '_base_', 'datasets', 'smpl24.py')
_SMPL_COLUMNS = ('smpl_pose', 'smpl_betas', 'has_smpl')
_METAINFO_KEYS = ('dataset_name', 'upper_body_ids', 'lower_body_ids', 'flip_pairs',
                  'dataset_keypoint_weights', 'flip_indices', 'skeleton_links')


@DATASETS.register_module()
class SMPLImageDataset(BaseCocoStyleDataset):
    """Single-person crops with the joints of a joint set and, optionally, SMPL parameters.

    Reads MMHuman3D HumanData or SPIN ``.npz`` files (:mod:`.humandata`) into column arrays that forked
    loader workers share copy-on-write. Each labelled joint keeps its own definition; those in
    ``joint_set`` with a source on the mesh supervise, 3D ones relative to the sample's root joint. The
    start-up report, the ``data_info`` keys and the ``bbox_file`` format are in ``docs/datasets.md``.

    Args:
        ann_file (str): HumanData or SPIN ``.npz``, relative to ``data_root``.
        joint_set (str): The joint set the samples carry and the head regresses, e.g. ``'smpl'`` (24
            joints) or ``'human_data'`` (MMHuman3D's 190); the file's joints go into it by name.
            Defaults to ``'smpl'``.
        data_format (str): ``'auto'`` (by keys), ``'humandata'`` or ``'spin'``. Defaults to ``'auto'``.
        source_joint_set (str, optional): The joint set the file's keypoints are stored in, for a
            HumanData file whose ``keypoints{2,3}d_convention`` is missing or wrong. Defaults to the
            file's own.
        openpose_weight (float): Weight of OpenPose detections (``*_openpose``). Defaults to 0.
        rename_keypoints (dict, optional): ``{file joint name: name}``, applied first.
        dataset_tag (str, optional): Group name for rarity metrics. Defaults to the file's stem.
        bbox_file (str, optional): COCO-style detections used instead of GT boxes (test mode).
        data_root (str, optional): Root of ``ann_file``, ``bbox_file`` and ``data_prefix``.
        data_prefix (dict): ``dict(img=folder)``. Defaults to ``dict(img='')``.
        filter_cfg (dict, optional): ``bbox_score_thr`` (float), ``min_keypoints`` (int, visible 2D
            joints), ``require_smpl`` (bool), ``require_3d`` (bool).
        check_img_dir (bool): Fail when the image folder is missing. Defaults to True.
        check_labels (bool): Refuse implausible labels (:mod:`.label_checks`). Defaults to True.
        **kwargs: ``metainfo``, ``indices``, ``pipeline``, ``test_mode``, ``lazy_init``,
            ``max_refetch`` and ``serialize_data`` (accepted, unused) of ``BaseDataset``.

    Raises:
        AnnotationError: A label that the file has supervises nothing.
    """

    METAINFO: dict = dict(from_file=SMPL24_METAINFO_FILE)

    def __init__(self,
                 ann_file: str = '',
                 joint_set: str = 'smpl',
                 data_format: str = 'auto',
                 source_joint_set: Optional[str] = None,
                 openpose_weight: float = 0.,
                 rename_keypoints: Optional[Dict[str, str]] = None,
                 dataset_tag: Optional[str] = None,
                 bbox_file: Optional[str] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 check_img_dir: bool = True,
                 check_labels: bool = True,
                 metainfo: Optional[dict] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        self.joint_set = joint_set
        self.num_joints = len(get_keypoint_names(joint_set))
        self.data_format = data_format
        self.source_joint_set = source_joint_set
        self.openpose_weight = float(openpose_weight)
        self.rename_keypoints = dict(rename_keypoints or {})
        self.supervision: dict = {}
        if metainfo is None and joint_set != 'smpl':
            metainfo = joint_set_metainfo(joint_set)
        self.dataset_tag = dataset_tag or osp.splitext(osp.basename(ann_file))[0]
        self.check_img_dir = check_img_dir
        self.check_labels = check_labels
        self.num_bad_images = 0
        self._cols: dict = {}
        self._rows = np.zeros(0, np.int64)
        self._det = None
        if bbox_file and data_root and not osp.isabs(bbox_file):
            bbox_file = osp.join(data_root, bbox_file)
        # Build the pipeline in MMPose's scope also when used outside a Runner (tools, tests).
        with DefaultScope.overwrite_default_scope('mmpose'):
            super().__init__(
                ann_file=ann_file, bbox_file=bbox_file, data_mode='topdown', metainfo=metainfo,
                data_root=data_root, data_prefix=data_prefix, filter_cfg=filter_cfg,
                indices=indices, serialize_data=serialize_data, pipeline=pipeline,
                test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    # ----------------------------------------------------------------------------- loading
    def full_init(self) -> None:
        """Read the columns, filter, subset; no per-sample dicts are built."""
        if self._fully_initialized:
            return
        img_dir = self.data_prefix.get('img', '')
        if self.check_img_dir and img_dir and not osp.isdir(img_dir):
            raise FileNotFoundError(f'{self.ann_file}: image folder {img_dir!r} '
                                    f'(data_prefix["img"]) does not exist')
        self._cols = read_annotations(self.ann_file, self.data_format, self.source_joint_set)
        if self.check_labels:
            check_label_ranges(self.ann_file, self._cols)
        labels = to_joint_set(self._cols, self.joint_set, self.openpose_weight, self.rename_keypoints)
        self.supervision = labels.pop('stats')
        check_claims(self.ann_file, self._cols, self.supervision, self.joint_set)
        self._cols.update(labels)  # the file's joints are replaced by those that supervise
        print_log(format_report(self.dataset_tag, self.ann_file, len(self._cols['img_path']),
                                self.joint_set, self.supervision), logger='current')
        uniq, img_id = np.unique(self._cols['img_path'], return_inverse=True)
        self._cols['img_id'] = img_id.astype(np.int64)
        rows = np.arange(len(self._cols['img_path']), dtype=np.int64)
        if self.bbox_file:
            rows = self._load_detections(uniq)
        self._rows = self._filter_rows(rows)
        if self._indices is not None:
            keep = (np.arange(min(self._indices, len(self._rows))) if isinstance(self._indices, int)
                    else np.asarray(self._indices, np.int64))
            self._rows = self._rows[keep]
            if self._det is not None:
                self._det = {k: v[keep] for k, v in self._det.items()}
        self._fully_initialized = True

    def _load_detections(self, uniq_paths: np.ndarray) -> np.ndarray:
        """Match each detection to the GT row of its image with the largest IoU (-1: none)."""
        dets = load_data_file(self.bbox_file, 'a detection file (a list of COCO-style boxes)',
                              'Export the detections again as JSON (COCO results format).')
        if not isinstance(dets, list):
            raise ValueError(f'{self.bbox_file}: expected a list of detections, got {type(dets)}')
        by_img = {}
        for row, iid in enumerate(self._cols['img_id']):
            by_img.setdefault(int(iid), []).append(row)
        path_to_id = {p: i for i, p in enumerate(uniq_paths)}
        rows, boxes, scores, img_ids = [], [], [], []
        for k, det in enumerate(dets):
            if det.get('category_id', 1) != 1:
                continue
            name = det.get('file_name', det.get('img_path'))
            iid = path_to_id.get(name, -1) if name is not None else int(det.get('image_id', -1))
            if 'bbox' not in det or iid < 0 or iid >= len(uniq_paths):
                raise ValueError(f'{self.bbox_file}: detection {k} has no bbox or an unknown '
                                 f'image ({name or det.get("image_id")})')
            box = bbox_xywh2xyxy(np.asarray(det['bbox'][:4], np.float32).reshape(1, 4))[0]
            cands = by_img.get(iid, [])
            best = -1
            if cands:
                gt = np.asarray(self._cols['bbox'][cands], np.float32)
                ious = bbox_overlaps(torch.from_numpy(box[None]), torch.from_numpy(gt))
                best = cands[int(np.argmax(ious.numpy()[0]))]
            rows.append(best)
            boxes.append(box)
            scores.append(float(det.get('score', 1.)))
            img_ids.append(iid)
        self._det = dict(bbox=np.asarray(boxes, np.float32).reshape(-1, 4),
                         bbox_score=np.asarray(scores, np.float32),
                         img_id=np.asarray(img_ids, np.int64),
                         img_path=uniq_paths[np.asarray(img_ids, np.int64)])
        return np.asarray(rows, np.int64)

    def _filter_rows(self, rows: np.ndarray) -> np.ndarray:
        cfg = self.filter_cfg or {}
        keep = np.ones(len(rows), bool)
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        c = self._cols
        if 'bbox_score_thr' in cfg:
            score = self._det['bbox_score'] if self._det is not None else c['bbox_score'][safe]
            keep &= score >= cfg['bbox_score_thr']
        lab = self._cols
        if cfg.get('min_keypoints'):
            keep &= valid & ((lab['keypoints_visible'][safe] > 0).sum(1) >= cfg['min_keypoints'])
        if cfg.get('require_smpl'):
            keep &= valid & (c['has_smpl'][safe] > 0)
        if cfg.get('require_3d'):
            keep &= valid & (lab['keypoints_3d_visible'][safe] > 0).any(1)
        if self._det is not None:
            self._det = {k: v[keep] for k, v in self._det.items()}
        if not keep.any():
            raise ValueError(f'{self.ann_file}: no samples left after filtering '
                             f'({len(rows)} before, filter_cfg={cfg})')
        return rows[keep]

    # ----------------------------------------------------------------------------- access
    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self._rows)

    def get_subset_(self, indices: Union[Sequence[int], int]) -> None:
        """In-place subset (``indices``: first n, or a list of positions)."""
        self._indices = indices
        keep = (np.arange(min(indices, len(self))) if isinstance(indices, int)
                else np.asarray(indices, np.int64))
        self._rows = self._rows[keep]
        if self._det is not None:
            self._det = {k: v[keep] for k, v in self._det.items()}

    def get_subset(self, indices: Union[Sequence[int], int]) -> 'SMPLImageDataset':
        """A subset copy (the columns are shared, not copied)."""
        sub = copy(self)
        sub.get_subset_(indices)
        return sub

    def get_data_info(self, idx: int) -> dict:
        """Build the ``data_info`` dict of sample ``idx`` from the columns (``docs/datasets.md``)."""
        if not self._fully_initialized:
            self.full_init()
        idx = int(idx) % len(self._rows)
        row = int(self._rows[idx])
        c = self._cols
        info = dict(sample_idx=idx, id=row, category_id=1, dataset_tag=self.dataset_tag,
                    joint_set=self.joint_set)
        info.update(scatter_row(c, row, self.num_joints))
        if row >= 0:
            for key in _SMPL_COLUMNS:
                info[key] = c[key][row][None].copy()
            info['img_path'] = str(c['img_path'][row])
            info['img_id'] = int(c['img_id'][row])
            info['bbox'] = c['bbox'][row][None].copy()
            info['bbox_score'] = c['bbox_score'][row][None].copy()
            info['clip'] = str(c['clip'][row]) if 'clip' in c else self.dataset_tag
            if 'is_rare' in c:
                info['is_rare'] = float(c['is_rare'][row])
            if 'gender' in c:
                info['gender'] = str(c['gender'][row])
            if 'frame' in c:
                info['frame'] = int(c['frame'][row])
        else:  # a detection without a GT person: labels zero, weights zero
            for key in _SMPL_COLUMNS:
                info[key] = np.zeros((1, ) + c[key].shape[1:], np.float32)
            info['clip'] = self.dataset_tag
        if self._det is not None:
            info['img_path'] = str(self._det['img_path'][idx])
            info['img_id'] = int(self._det['img_id'][idx])
            info['bbox'] = self._det['bbox'][idx][None].copy()
            info['bbox_score'] = self._det['bbox_score'][idx][None].copy()
        info['img_path'] = osp.join(self.data_prefix.get('img', ''), info['img_path'])
        # shallow copies (MMPose deep-copies; that was 85% of the time of this method)
        for key in _METAINFO_KEYS:
            info[key] = copy(self._metainfo[key])
        return info

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``."""
        return self.pipeline(self.get_data_info(idx))

    def __getitem__(self, idx: int) -> dict:
        """Pipeline output of ``idx``; at train time an unreadable image is reported and replaced.

        Only errors raised by MMPose's ``LoadImage`` (its message names the file: "occurs when
        loading") are caught; anything else propagates. At test time an unusable image (undecodable, or
        too small) stops with ``BadTestImageError`` saying what is wrong with it (:mod:`.image_checks`).
        """
        if not self._fully_initialized:
            self.full_init()
        if self.test_mode:
            return load_test_sample(self, idx)
        for _ in range(self.max_refetch + 1):
            try:
                data = self.prepare_data(idx)
            except Exception as err:  # noqa: BLE001 - filtered to image-loading errors below
                if 'occurs when loading' not in str(err):
                    raise
                self._report_bad_image(idx, err)
                data = None
            if data is not None:
                return data
            idx = self._rand_another()
        raise RuntimeError(f'{self.ann_file}: no loadable sample after {self.max_refetch} '
                           f'retries ({self.num_bad_images} unreadable images)')

    def _report_bad_image(self, idx: int, err: Exception) -> None:
        self.num_bad_images += 1
        n = self.num_bad_images
        if n <= 10 or n % 100 == 0:
            msg = (f'{self.dataset_tag}: skipped unreadable image of sample {idx} ({err}); '
                   f'{n} unreadable image(s) so far in this process; using another sample')
            print_log(msg, logger='current', level=30)
            warnings.warn(msg)

    @property
    def columns(self) -> dict:
        """The annotation columns of all rows (before filtering): the reader's, with the keypoint columns
        reduced to the joints that supervise (:func:`.supervision.to_joint_set`)."""
        return self._cols
