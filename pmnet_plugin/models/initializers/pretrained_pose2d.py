"""Starting a mesh estimator from a 2D pose model's checkpoint (as HMR 2.0 starts from ViTPose)."""
import logging
from collections import Counter
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmpose.registry import WEIGHT_INITIALIZERS
from torch import nn

# every tensor of MMPose's TopdownPoseEstimator backbone; the heatmap layers are added per config
BACKBONE_ONLY = {'backbone.': 'backbone.'}


def _groups(keys: List[str], depth: int = 2) -> str:
    """``'backbone.* (161), head.final_layer.* (2)'``: key counts by their first ``depth`` name parts."""
    counts = Counter('.'.join(k.split('.')[:depth]) for k in keys)
    return ', '.join(f'{g}.* ({n})' for g, n in sorted(counts.items())) or 'none'


def _listing(items: List[str], limit: int = 6) -> str:
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return f'{len(items)} ({", ".join(items[:limit])}{more})'


@WEIGHT_INITIALIZERS.register_module(name='PretrainedPose2D')
class PretrainedPose2DInit:
    """Loads the backbone (and heatmap layers) of a 2D pose model's checkpoint into a mesh estimator.

    Set as the estimator's ``init_cfg``, it runs when the Runner initialises the model (training only;
    testing and resuming load full checkpoints). ``mapping`` renames checkpoint prefixes to model prefixes,
    e.g. MMPose's ``HeatmapHead`` layers to :class:`KeypointHeatmapNeck`'s heatmap branch. The match must
    be complete: every model tensor under a mapped model prefix must come from the checkpoint with its
    shape, and every checkpoint tensor under a mapped checkpoint prefix must have a place, otherwise
    :class:`~pmnet_plugin.apis.checkpoint.CheckpointMismatchError` names the keys (a ResNet-18 checkpoint
    for a ResNet-50 model, a 17-joint head for 24 heatmaps). A submodule loaded completely skips its own
    ``init_cfg`` (no ImageNet download it would overwrite); one loaded partly runs it first. The log says
    what was loaded, what kept its own initialisation and what of the checkpoint was not used.

    Args:
        checkpoint (str, optional): File or URL of an MMPose checkpoint (``state_dict`` of a
            ``TopdownPoseEstimator``). None loads nothing and logs that the submodules keep their own
            initialisation.
        mapping (dict): ``{checkpoint prefix: model prefix}``. Defaults to the backbone only.
        map_location (str): Passed to ``torch.load``. Defaults to ``'cpu'``.
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 mapping: Dict[str, str] = BACKBONE_ONLY,
                 map_location: str = 'cpu') -> None:
        if not mapping:
            raise ValueError('PretrainedPose2D: mapping must name at least one prefix')
        self.checkpoint = checkpoint
        self.mapping = dict(mapping)
        self.map_location = map_location

    def _rename(self, key: str) -> Optional[str]:
        """The model key of a checkpoint key (longest matching prefix), None when no prefix matches."""
        prefixes = [p for p in self.mapping if key.startswith(p)]
        if not prefixes:
            return None
        src = max(prefixes, key=len)
        return self.mapping[src] + key[len(src):]

    def match(self, model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> Tuple[Dict, List[str]]:
        """Renames the mapped checkpoint tensors to model keys and checks the match is complete.

        Args:
            model (nn.Module): The estimator.
            state_dict (dict): The checkpoint's tensors (``module.`` prefixes removed).

        Returns:
            tuple: ``{model key: tensor}`` to load, and the checkpoint keys outside the mapping.

        Raises:
            CheckpointMismatchError: Model tensors under a mapped prefix that the checkpoint lacks,
                checkpoint tensors without a place in the model, shapes that differ, or a model prefix
                that names no tensor.
        """
        from pmnet_plugin.apis.checkpoint import CheckpointMismatchError
        own = model.state_dict()
        renamed, unused = {}, []
        for key, value in state_dict.items():
            target = self._rename(key)
            if target is None:
                unused.append(key)
            else:
                renamed[target] = (key, value)
        covered = [k for k in own if any(k.startswith(p) for p in self.mapping.values())]
        empty = [p for p in self.mapping.values() if not any(k.startswith(p) for k in own)]
        missing = [k for k in covered if k not in renamed]
        unexpected = [f'{src} -> {dst}' for dst, (src, _) in renamed.items() if dst not in own]
        mismatched = [f'{src} -> {dst}: checkpoint {tuple(v.shape)} vs model {tuple(own[dst].shape)}'
                      for dst, (src, v) in renamed.items()
                      if dst in own and tuple(v.shape) != tuple(own[dst].shape)]
        if empty or missing or unexpected or mismatched:
            raise CheckpointMismatchError(
                f'PretrainedPose2D: checkpoint {self.checkpoint} does not fit the {type(model).__name__} '
                f'under the mapping {self.mapping}. Model prefixes without tensors: {empty or "none"}; '
                f'model tensors missing from the checkpoint: {_listing(missing)}; checkpoint tensors '
                f'without a place in the model: {_listing(unexpected)}; shape mismatch: '
                f'{_listing(mismatched, 4)}. Use a 2D checkpoint with the same backbone (and heatmap '
                'layers), or map fewer prefixes (e.g. the backbone only).')
        return {dst: v for dst, (_, v) in renamed.items()}, unused

    def __call__(self, module: nn.Module) -> None:
        """Loads the checkpoint into ``module`` (the estimator) and logs what was and was not loaded."""
        if self.checkpoint is None:
            print_log('PretrainedPose2D: no 2D checkpoint given (init_cfg.checkpoint=None): every submodule '
                      'keeps its own initialisation.', logger='current')
            return
        from pmnet_plugin.apis.checkpoint import read_checkpoint
        ckpt = read_checkpoint(self.checkpoint, self.map_location)
        state_dict = ckpt.get('state_dict', ckpt)
        state_dict = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
        load, unused = self.match(module, state_dict)
        own = module.state_dict()
        for name, child in module.named_children():
            keys = [k for k in own if k.startswith(name + '.')]
            if not keys or not hasattr(child, 'init_weights') or getattr(child, 'is_init', False):
                continue
            if all(k in load for k in keys):
                child._is_init = True  # fully replaced: its own init (e.g. an ImageNet download) is skipped
            elif any(k in load for k in keys):
                child.init_weights()  # the tensors not in the checkpoint get the child's own init
        result = module.load_state_dict(load, strict=False)
        assert not result.unexpected_keys, result.unexpected_keys  # match() checked every key
        kept = [k for k in own if k not in load]
        print_log(f'PretrainedPose2D: loaded {len(load)} tensors from {self.checkpoint} '
                  f'({", ".join(f"{s}* -> {d}*" for s, d in self.mapping.items())}): {_groups(list(load))}. '
                  f'Kept their own initialisation: {_groups(kept)}. Not used from the checkpoint: '
                  f'{_groups(unused)}.', logger='current', level=logging.INFO)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'PretrainedPose2D: loaded from {self.checkpoint}')
