"""Samples of a feature cache: a frozen backbone's outputs with the labels the pipeline packed beside them."""
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmengine.structures import InstanceData
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS
from mmpose.structures import PoseDataSample
from torch.utils.data import Dataset

from .smpl_image_dataset import SMPL24_METAINFO_FILE

CACHE_FORMAT = 1
META_FILE = 'meta.json'


def read_cache_meta(cache_dir: str) -> dict:
    """``meta.json`` of a feature cache (raises ``FileNotFoundError`` naming what is missing)."""
    path = osp.join(cache_dir, META_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{cache_dir} is not a feature cache (no {META_FILE}); build it with '
                                'pmnet_plugin.analysis.feature_cache.build_feature_cache (tools/head_study.py)')
    with open(path) as f:
        return json.load(f)


@DATASETS.register_module()
class CachedFeatureDataset(Dataset):
    """One (render, augmentation draw) per item: backbone outputs and the packed labels of that draw.

    The cache folder holds ``feats_{l}.npy`` (N, C_l, H_l, W_l) per backbone level, ``labels.npz``
    (``label/<key>``: the ``gt_instance_labels``, ``inst/<key>``: the ``gt_instances``, each (N, 1, ...))
    and ``meta.json`` (fingerprint, shapes, per-sample metainfo). Items are
    ``dict(inputs=dict(backbone_feats=[...]), data_samples=PoseDataSample)``, collated by
    :func:`cached_feature_collate`; the features stay memory-mapped.

    Args:
        cache_dir (str): Folder written by ``build_feature_cache``.
        metainfo_file (str): Dataset metainfo config (joint names, flip pairs). Defaults to SMPL-24's.
    """

    def __init__(self, cache_dir: str, metainfo_file: str = SMPL24_METAINFO_FILE) -> None:
        self.cache_dir = cache_dir
        self.meta = read_cache_meta(cache_dir)
        if self.meta.get('format') != CACHE_FORMAT:
            raise ValueError(f'{cache_dir}: cache format {self.meta.get("format")}, expected {CACHE_FORMAT}; '
                             'rebuild it')
        self.feats = [np.load(osp.join(cache_dir, f'feats_{i}.npy'), mmap_mode='r')
                      for i in range(len(self.meta['levels']))]
        with np.load(osp.join(cache_dir, 'labels.npz'), allow_pickle=False) as f:
            self.labels = {k: f[k] for k in f.files}
        self.sample_meta: List[dict] = self.meta['sample_metainfo']
        self.array_keys = set(self.meta['array_metainfo_keys'])
        n = self.meta['num_samples']
        sizes = {len(a) for a in self.feats} | {len(a) for a in self.labels.values()} | {len(self.sample_meta)}
        if sizes != {n}:
            raise ValueError(f'{cache_dir}: arrays of {sorted(sizes)} samples, meta.json says {n}; rebuild it')
        self._metainfo = parse_pose_metainfo(dict(from_file=metainfo_file))
        self._samples: Dict[int, PoseDataSample] = {}  # built once each; the models only read them

    @property
    def metainfo(self) -> dict:
        return self._metainfo

    def __len__(self) -> int:
        return self.meta['num_samples']

    def data_sample(self, idx: int) -> PoseDataSample:
        """The packed sample ``idx`` without its features."""
        if idx in self._samples:
            return self._samples[idx]
        meta = {k: np.asarray(v) if k in self.array_keys else v for k, v in self.sample_meta[idx].items()}
        sample = PoseDataSample(metainfo=meta)
        fields: Dict[str, dict] = {'label': {}, 'inst': {}}
        for key, value in self.labels.items():
            kind, name = key.split('/', 1)
            fields[kind][name] = value[idx]
        sample.gt_instance_labels = InstanceData(**fields['label'])
        sample.gt_instances = InstanceData(**fields['inst'])
        self._samples[idx] = sample
        return sample

    def __getitem__(self, idx: int) -> dict:
        feats = [torch.from_numpy(np.ascontiguousarray(level[idx])) for level in self.feats]
        return dict(inputs=feats, data_samples=self.data_sample(idx))


@FUNCTIONS.register_module()
def cached_feature_collate(data_batch: Sequence[dict]) -> dict:
    """Stacks each backbone level of the items to (B, C_l, H_l, W_l) under ``inputs['backbone_feats']``.

    Returns:
        dict: ``inputs=dict(backbone_feats=[...])`` and ``data_samples`` (list of ``PoseDataSample``).
    """
    levels = list(zip(*[item['inputs'] for item in data_batch]))
    batch = pseudo_collate([dict(data_samples=item['data_samples']) for item in data_batch])
    batch['inputs'] = dict(backbone_feats=[torch.stack(level) for level in levels])
    return batch
