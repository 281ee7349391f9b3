"""Inputs the fault tests build from the tiny renders (``synth``): checkpoints and edited data copies."""
import os
import os.path as osp
import shutil
from typing import Callable, Optional

import numpy as np
import torch


def save_model_checkpoint(cfg, path: str, **head) -> str:
    """Builds ``cfg``'s model (head fields overridden) and saves it as a Runner would (``meta['cfg']``)."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    cfg = cfg.copy()
    cfg.model.head.update(head)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)), path)
    return path


def copy_split(synth: dict, data_root, edit_train: Optional[Callable[[dict], None]] = None,
               copy_test_images: bool = False) -> str:
    """A copy of the tiny renders in ``data_root`` (links where nothing changes).

    Args:
        synth (dict): The ``synth`` fixture.
        data_root (Path): The new folder (created).
        edit_train (Callable, optional): Changes the arrays of ``train.npz`` in place (as read by
            ``load_humandata``); the file is written again.
        copy_test_images (bool): Copy ``test/`` (to spoil its images) instead of linking it.

    Returns:
        str: ``data_root``.
    """
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    src = synth['data_root']
    os.makedirs(data_root)
    for name in ('train', 'test', 'test.npz', 'train.npz'):
        if (name == 'train.npz' and edit_train) or (name == 'test' and copy_test_images):
            continue
        os.symlink(osp.join(src, name), osp.join(data_root, name))
    if copy_test_images:
        shutil.copytree(osp.join(src, 'test'), osp.join(data_root, 'test'))
    if edit_train:
        arrays = load_humandata(osp.join(src, 'train.npz'))
        edit_train(arrays)
        np.savez(osp.join(data_root, 'train.npz'), **{
            k: np.array(v, dtype=object) if isinstance(v, dict) else v for k, v in arrays.items()})
    return str(data_root)
