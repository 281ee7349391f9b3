"""Renders and the body model of a config must be the same body.

A split written by ``tools/make_synthetic_dataset.py`` records the fingerprint of the body it was rendered
with; :func:`check_render_bodies` compares it with every body model the config builds and raises
:class:`BodyModelMismatchError` naming both (``docs/reliability.md``).
"""
import os.path as osp
from typing import Dict, Iterator, List

import numpy as np

__all__ = ['BodyModelMismatchError', 'recorded_fingerprint', 'check_render_bodies']

# what each stage reads: data loaders and evaluators
STAGES = dict(train=(('train_dataloader', 'val_dataloader'), ('val_evaluator', )),
              test=(('test_dataloader', ), ('test_evaluator', )))


class BodyModelMismatchError(ValueError):
    """A rendered split and a body model of the config are different bodies (names both)."""


def recorded_fingerprint(ann_file: str) -> str:
    """The body-model fingerprint recorded in a rendered split, ``''`` when it has none."""
    if not osp.isfile(ann_file) or not ann_file.endswith('.npz'):
        return ''
    with np.load(ann_file, allow_pickle=False) as data:  # only the plain string entry is read
        return str(data['body_model_fingerprint']) if 'body_model_fingerprint' in data.files else ''


def _datasets(dataset: dict) -> Iterator[dict]:
    yield dataset
    for child in dataset.get('datasets', None) or []:
        yield from _datasets(child)
    if isinstance(dataset.get('dataset', None), dict):
        yield from _datasets(dataset['dataset'])


def _splits(cfg, loaders) -> List[str]:
    files = []
    for name in loaders:
        loader = cfg.get(name, None)
        if not loader:
            continue
        for ds in _datasets(loader.get('dataset', {})):
            ann = ds.get('ann_file', None)
            if ann:
                files.append(ann if osp.isabs(ann) else osp.join(ds.get('data_root', '') or '', ann))
    return list(dict.fromkeys(files))


def _body_models(cfg, evaluators) -> Dict[str, str]:
    """``{where: model_path}`` of the body models the config builds."""
    out = {}
    head_body = cfg.get('model', {}).get('head', {}).get('body_model', None)
    if isinstance(head_body, dict) and head_body.get('model_path'):
        out['model.head.body_model'] = head_body['model_path']
    for name in evaluators:
        evaluator = cfg.get(name, None)
        for i, ev in enumerate(evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]):
            body = ev.get('body_model', None) if isinstance(ev, dict) else None
            if isinstance(body, dict) and body.get('model_path'):
                out[f'{name}[{i}].body_model ({ev.get("type")})'] = body['model_path']
    return out


def check_render_bodies(cfg, stage: str) -> None:
    """Raises :class:`BodyModelMismatchError` when a split the stage reads was rendered with another body.

    Args:
        cfg (mmengine.Config): A training / testing config.
        stage (str): ``'train'`` (train and val splits, the head's and the val evaluators' bodies) or
            ``'test'`` (the test split, the head's and the test evaluators' bodies).
    """
    from pmnet_plugin.models.body_models.fingerprint import body_model_fingerprint
    loaders, evaluators = STAGES[stage]
    recorded = {f: recorded_fingerprint(f) for f in _splits(cfg, loaders)}
    recorded = {f: fp for f, fp in recorded.items() if fp}
    if not recorded:
        return
    fingerprints: Dict[str, str] = {}
    for where, path in _body_models(cfg, evaluators).items():
        if not osp.isfile(path):
            continue  # building the model will say that it is missing
        if path not in fingerprints:
            fingerprints[path] = body_model_fingerprint(path)
        for split, fp in recorded.items():
            if fp != fingerprints[path]:
                body_npz = osp.join(osp.dirname(split), 'body_model.npz')
                raise BodyModelMismatchError(
                    f'{split} was rendered with the body model {fp}, but {where} is {path} '
                    f'({fingerprints[path]}): another body, whose joints and meshes do not match the labels. '
                    f'Use the body the split was rendered with ({body_npz} is a copy of it) or render the '
                    f'split again with {path} (tools/make_synthetic_dataset.py --body-model).')
