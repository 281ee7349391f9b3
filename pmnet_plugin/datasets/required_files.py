"""The input files a config names, checked before anything is built.

:func:`check_required_files` lists every missing body model, mean-parameter, prototype and annotation file
and image folder of one stage in one :class:`MissingFilesError`, each with where to get it, so that
``python tools/train.py configs/pmnet_res50.py`` on a machine without the real data stops at once (exit 2)
instead of after building the Runner.
"""
import os.path as osp
from typing import List, Tuple

from .body_fingerprint_check import STAGES, _datasets

__all__ = ['MissingFilesError', 'required_files', 'check_required_files']

DATA_HINT = ("MMHuman3D's preprocessed HumanData / SPIN's dataset_extras and the dataset images, laid out "
             'as in docs/datasets.md')
PROTOTYPE_HINT = 'build it with tools/build_prototypes.py (docs/model.md)'


class MissingFilesError(FileNotFoundError):
    """Files a config needs do not exist (the message names each and where to get it)."""


def _body_files(body: dict, where: str) -> List[Tuple[str, str, str]]:
    from pmnet_plugin.models.body_models.constants import OBTAIN_HINTS
    out = [(body['model_path'], f'{where}: SMPL model', OBTAIN_HINTS['smpl'])]
    if body.get('joint_regressor_h36m'):
        out.append((body['joint_regressor_h36m'], f'{where}: H36M joint regressor',
                    OBTAIN_HINTS['h36m_regressor']))
    return out


def required_files(cfg, stage: str = 'train') -> List[Tuple[str, str, str]]:
    """``(path, what, where to get it)`` of every input file and folder a stage of ``cfg`` reads.

    Args:
        cfg (mmengine.Config): A training / testing config.
        stage (str): ``'train'`` (train and val data, the head, the val evaluators) or ``'test'``.

    Returns:
        list[tuple[str, str, str]]: Without duplicates, in config order.
    """
    from pmnet_plugin.models.body_models.constants import OBTAIN_HINTS
    loaders, evaluators = STAGES[stage]
    files: List[Tuple[str, str, str]] = []
    head = cfg.get('model', {}).get('head', {}) or {}
    if isinstance(head.get('body_model', None), dict):
        files += _body_files(head['body_model'], 'model.head.body_model')
    if head.get('mean_params'):
        files.append((head['mean_params'], 'model.head.mean_params', OBTAIN_HINTS['mean_params']))
    if stage == 'train' and head.get('prototype_file'):  # a missing rarity_file only loses percentiles
        files.append((head['prototype_file'], 'model.head.prototype_file', PROTOTYPE_HINT))
    for name in evaluators:
        evaluator = cfg.get(name, None) or []
        for i, ev in enumerate(evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]):
            if isinstance(ev.get('body_model', None), dict):  # (missing gendered models: a warning)
                files += _body_files(ev['body_model'], f'{name}[{i}]')
    for name in loaders:
        for ds in _datasets((cfg.get(name, None) or {}).get('dataset', {})):
            root = ds.get('data_root', '') or ''
            if ds.get('ann_file'):
                files.append((osp.join(root, ds['ann_file']), f'{name}: annotations', DATA_HINT))
            img = (ds.get('data_prefix', None) or {}).get('img', None)
            if img and ds.get('check_img_dir', True):
                files.append((osp.join(root, img), f'{name}: image folder', DATA_HINT))
    seen = set()
    return [f for f in files if not (f[0] in seen or seen.add(f[0]))]


def check_required_files(cfg, stage: str = 'train') -> None:
    """Raises :class:`MissingFilesError` listing every missing file of :func:`required_files`.

    Args:
        cfg (mmengine.Config): A training / testing config.
        stage (str): ``'train'`` or ``'test'``.
    """
    from pmnet_plugin.utils.paths import relative_path_hint
    missing = [(p, what, hint) for p, what, hint in required_files(cfg, stage) if not osp.exists(p)]
    if not missing:
        return
    lines = []
    for hint in dict.fromkeys(h for _, _, h in missing):  # grouped by where to get them
        lines += [f'  {p} ({what}) {relative_path_hint(p)}'.rstrip() for p, what, h in missing if h == hint]
        lines.append(f'    -> {hint}')
    raise MissingFilesError(
        f'{len(missing)} file(s) the config needs do not exist (paths relative to {osp.abspath(".")}):\n'
        + '\n'.join(lines) + '\nOffline, `make demo` trains the synthetic configs with generated files '
        '(docs/quickstart.md).')
