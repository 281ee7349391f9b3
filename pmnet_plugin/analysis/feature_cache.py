"""A frozen backbone's outputs over a dataset split, computed once and reused while nothing they depend on
changes (:class:`CachedFeatureDataset` reads them)."""
import hashlib
import json
import os
import os.path as osp
import random
import shutil
from typing import Callable, Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from pmnet_plugin.datasets.cached_feature_dataset import (CACHE_FORMAT, META_FILE,
                                                          CachedFeatureDataset)
from pmnet_plugin.datasets.collate import mesh_collate
from pmnet_plugin.utils.quickstart_cache import file_digest


def _folder_digest(path: str) -> str:
    """Digest of a folder's file names, sizes and modification times (a re-render changes it)."""
    h = hashlib.sha1()
    for root, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            st = os.stat(osp.join(root, name))
            h.update(f'{osp.relpath(osp.join(root, name), path)}:{st.st_size}:{st.st_mtime_ns};'.encode())
    return h.hexdigest()


def _digest(obj) -> str:
    """SHA-1 of a config value's canonical JSON."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def cache_fingerprint(cfg: Config, split: str, checkpoint: Optional[str], draws: int, seed: int,
                      dtype: str) -> Dict[str, str]:
    """Everything a split's cached features depend on, one digest per input, and ``key`` over all.

    Args:
        cfg (Config): The mesh model config (``model``, ``{split}_dataloader``).
        split (str): ``'train'`` or ``'test'``.
        checkpoint (str, optional): Weights of the backbone (a 2D stage or mesh checkpoint); ``None``: the
            backbone's own initialisation (ImageNet).
        draws (int): Augmentation draws per sample.
        seed (int): Seed of the draws.
        dtype (str): Stored dtype, ``'float16'`` or ``'float32'``.

    Returns:
        dict: ``annotations``, ``images``, ``pipeline``, ``backbone``, ``checkpoint``, ``options`` and
        ``key``.
    """
    ds = cfg[f'{split}_dataloader'].dataset
    root = ds.get('data_root', '')
    parts = dict(
        annotations=file_digest(osp.join(root, ds.ann_file)),
        images=_folder_digest(osp.join(root, ds.get('data_prefix', {}).get('img', ''))),
        pipeline=_digest(ds.pipeline),
        backbone=_digest([cfg.model.backbone, cfg.model.data_preprocessor]),
        checkpoint=file_digest(checkpoint) if checkpoint else 'backbone initialisation',
        options=json.dumps(dict(split=split, draws=draws, seed=seed, dtype=dtype, format=CACHE_FORMAT),
                           sort_keys=True))
    parts['key'] = _digest(parts)
    return parts


def cache_problem(cache_dir: str, fingerprint: Dict[str, str]) -> Optional[str]:
    """Why ``cache_dir`` cannot be reused for ``fingerprint`` (``None``: it can): missing, built from other
    inputs (named), or damaged."""
    if not osp.isfile(osp.join(cache_dir, META_FILE)):
        return 'not built yet'
    try:
        old = CachedFeatureDataset(cache_dir).meta['fingerprint']
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        return f'damaged ({type(err).__name__}: {err})'
    changed = [k for k in fingerprint if k != 'key' and old.get(k) != fingerprint[k]]
    return f'its {", ".join(changed)} changed' if changed else None


def _jsonable_meta(meta: dict, array_keys: set) -> dict:
    out = {}
    for key, value in meta.items():
        if isinstance(value, np.ndarray):
            array_keys.add(key)
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, torch.Tensor):
            array_keys.add(key)
            value = value.tolist()
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        out[key] = value
    return out


@torch.no_grad()
def build_feature_cache(cfg: Config, split: str, cache_dir: str, checkpoint: Optional[str] = None,
                        draws: int = 1, seed: int = 0, dtype: str = 'float16', batch_size: int = 64,
                        log: Callable[[str], None] = print) -> str:
    """Runs the frozen backbone of ``cfg.model`` over a split ``draws`` times and stores its outputs with
    the labels of each draw; reuses ``cache_dir`` when its fingerprint matches, else rebuilds it (one
    line says why). Written to a temporary folder and renamed, so an interrupted build leaves no cache.

    Args:
        cfg (Config): The mesh model config; ``model.init_cfg`` is pointed at ``checkpoint``.
        split (str): ``'train'`` (the training pipeline, random augmentation) or ``'test'``.
        cache_dir (str): Output folder.
        checkpoint (str, optional): See :func:`cache_fingerprint`.
        draws (int): Augmentation draws per sample. Defaults to 1.
        seed (int): Draw ``a`` seeds Python, NumPy and torch with ``seed * 1000 + a``. Defaults to 0.
        dtype (str): ``'float16'`` (half the memory) or ``'float32'``. Defaults to ``'float16'``.
        batch_size (int): Images per backbone forward. Defaults to 64.
        log (callable): Progress lines.

    Returns:
        str: ``cache_dir``.
    """
    if split not in ('train', 'test') or draws < 1 or dtype not in ('float16', 'float32'):
        raise ValueError(f'build_feature_cache: split train|test, draws >= 1, dtype float16|float32; got '
                         f'{split}, {draws}, {dtype}')
    fingerprint = cache_fingerprint(cfg, split, checkpoint, draws, seed, dtype)
    problem = cache_problem(cache_dir, fingerprint)
    if problem is None:
        log(f'feature cache {cache_dir}: reused ({len(CachedFeatureDataset(cache_dir))} samples)')
        return cache_dir
    log(f'feature cache {cache_dir}: building, {problem}')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = cfg.model.copy()
    model_cfg.init_cfg = dict(model_cfg.get('init_cfg') or {}, checkpoint=checkpoint) if checkpoint else None
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.eval()
    dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    n, total = len(dataset), len(dataset) * draws
    feats, labels, metas, array_keys = None, {}, [], set()
    for draw in range(draws):
        random.seed(seed * 1000 + draw)
        np.random.seed(seed * 1000 + draw)
        torch.manual_seed(seed * 1000 + draw)
        for start in range(0, n, batch_size):
            batch = mesh_collate([dataset[i] for i in range(start, min(start + batch_size, n))])
            data = model.data_preprocessor(batch, False)
            levels = model.backbone(data['inputs'])
            levels = tuple(levels) if isinstance(levels, (list, tuple)) else (levels, )
            if feats is None:
                feats = [np.empty((total, ) + tuple(x.shape[1:]), dtype) for x in levels]
            row = draw * n + start
            for store, level in zip(feats, levels):
                store[row:row + len(level)] = level.float().cpu().numpy().astype(dtype)
            for sample in data['data_samples']:
                for kind, field in (('label', 'gt_instance_labels'), ('inst', 'gt_instances')):
                    for key, value in sample.get(field).all_items():
                        value = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)
                        if value.dtype.kind in 'biuf':
                            labels.setdefault(f'{kind}/{key}', []).append(value)
                metas.append(_jsonable_meta(sample.metainfo, array_keys))
        log(f'feature cache {cache_dir}: draw {draw + 1}/{draws} done ({n} samples)')
    tmp = cache_dir.rstrip('/') + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for i, store in enumerate(feats):
        np.save(osp.join(tmp, f'feats_{i}.npy'), store)
    np.savez(osp.join(tmp, 'labels.npz'), **{k: np.stack(v) for k, v in labels.items() if len(v) == total})
    meta = dict(format=CACHE_FORMAT, fingerprint=fingerprint, num_samples=total, num_source_samples=n,
                draws=draws, levels=[list(f.shape[1:]) for f in feats], dtype=dtype,
                bytes=int(sum(f.nbytes for f in feats)), array_metainfo_keys=sorted(array_keys),
                sample_metainfo=metas)
    with open(osp.join(tmp, META_FILE), 'w') as f:
        json.dump(meta, f)
    if osp.isdir(cache_dir):  # only a cache of ours is replaced
        if os.listdir(cache_dir) and not osp.isfile(osp.join(cache_dir, META_FILE)):
            raise FileExistsError(f'{cache_dir} holds files that are not a feature cache; choose another folder')
        shutil.rmtree(cache_dir)
    os.replace(tmp, cache_dir)
    log(f'feature cache {cache_dir}: {total} samples, {meta["bytes"] / 2**20:.0f} MiB of features')
    return cache_dir
