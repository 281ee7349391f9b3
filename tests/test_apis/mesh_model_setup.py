"""Test helper: the offline PM-Net config with the fixture's body model, random weights."""
import os.path as osp
from typing import Callable, Optional

import numpy as np
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PMNET_CONFIG = osp.join(REPO, 'configs', 'pmnet_res18-w32_1xb16-300it_synthetic-96x96.py')


def mesh_config(files: dict) -> Config:
    """``configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py`` pointed at the fixture files (no prototype/rarity
    file).

    Args:
        files (dict): the ``body_model_files`` fixture.

    Returns:
        Config: ready for ``init_mesh_model``.
    """
    cfg = Config.fromfile(PMNET_CONFIG)
    cfg.merge_from_dict({
        'model.head.body_model.model_path': files['model_path'],
        'model.head.body_model.joint_regressor_h36m': files['h36m_regressor'],
        'model.head.mean_params': files['mean_params'],
        'model.head.prototype_file': None,
        'model.head.rarity_file': None,
    })
    return cfg


def hmr_config(files: dict) -> Config:
    """``configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py`` pointed at the fixture files (HMR twin of
    :func:`mesh_config`)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'hmr_res18-w32_1xb16-300it_synthetic-96x96.py'))
    cfg.merge_from_dict({
        'model.head.body_model.model_path': files['model_path'],
        'model.head.body_model.joint_regressor_h36m': files['h36m_regressor'],
        'model.head.mean_params': files['mean_params'],
    })
    return cfg


def save_random_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Saves the (randomly initialised) weights in mmengine's checkpoint layout."""
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def demo_setup(files: dict, root, box, adjust: Optional[Callable] = None) -> dict:
    """Config file, random checkpoint and a person image for the demo tests.

    Args:
        files (dict): the ``body_model_files`` fixture.
        root (Path): folder for the files.
        box (tuple): where the body is drawn, ``(x1, y1, x2, y2)``.
        adjust (callable, optional): ``adjust(model)`` before the checkpoint is saved.

    Returns:
        dict: ``root``, ``cfg`` (path), ``ckpt``, ``img`` (BGR), ``img_path``, ``model``.
    """
    import cv2

    from pmnet_plugin.apis import init_mesh_model
    cfg = mesh_config(files)
    cfg_path = str(root / 'pmnet.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = init_mesh_model(cfg)
    if adjust is not None:
        adjust(model)
    ckpt = save_random_checkpoint(model, str(root / 'pmnet.pth'))
    img = synthetic_person_image(files, box=box)
    img_path = str(root / 'person.png')
    cv2.imwrite(img_path, img)
    return dict(root=root, cfg=cfg_path, ckpt=ckpt, img=img, img_path=img_path, model=model)


def synthetic_person_image(files: dict, size=(200, 160), box=(40, 30, 120, 190),
                           seed: int = 0) -> np.ndarray:
    """A BGR image (H, W, 3) with the procedural body rendered upright inside ``box``."""
    from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
    from pmnet_plugin.visualization.renderer import MeshRenderer
    h, w = size
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:h, :w]
    bg = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 128)], -1).astype(np.uint8)
    bg = np.clip(bg.astype(int) + rng.randint(-20, 20, bg.shape), 0, 255).astype(np.uint8)
    data = load_smpl_model_file(files['model_path'])
    verts = data['v_template'] * np.array([1.0, -1.0, -1.0])
    verts = verts - verts.mean(0)
    x1, y1, x2, y2 = box
    height = np.ptp(verts[:, 1])
    focal, depth = 1000.0, 1000.0 * height / (y2 - y1)
    rgb, _ = MeshRenderer().render(verts + np.array([0, 0, depth]), data['f'], focal,
                                   ((x1 + x2) / 2, (y1 + y2) / 2), img=bg,
                                   color=(0.9, 0.6, 0.5))
    return np.ascontiguousarray(rgb[..., ::-1])


def random_person_detector(config_out: Optional[str] = None):
    """RTMDet-tiny with random weights, biased to emit valid person boxes (category 0).

    Untrained RTMDet regresses ~0 distances (empty boxes, dropped by its post-processing) and
    scores all 80 classes alike; positive distance biases and a person score bias fix both.
    The test-time candidate counts are cut (an untrained head makes every anchor a candidate,
    which takes seconds of NMS on a CPU).

    Args:
        config_out (str, optional): where to dump the detector config (for ``--det-config``).
    """
    from pmnet_plugin.apis import DEFAULT_DET_CONFIG, PersonDetector, mmdet_config_path
    cfg = Config.fromfile(mmdet_config_path(DEFAULT_DET_CONFIG))
    cfg.model.test_cfg.update(score_thr=0.05, nms_pre=200, max_per_img=20)
    if config_out:
        cfg.dump(config_out)
    torch.manual_seed(0)
    det = PersonDetector(cfg, allow_random_init=True)
    with torch.no_grad():
        for conv in det.model.bbox_head.rtm_reg:
            conv.bias.fill_(2.0)
        for conv in det.model.bbox_head.rtm_cls:
            conv.bias[0] = 0.0
    return det
