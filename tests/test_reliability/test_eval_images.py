"""Bad images in an evaluation split stop tools/test.py (exit 2) with what is wrong with the file.

A truncated JPEG, a text file named ``.jpg`` and a 1x1 image in the test split of the tiny renders: MMPose's
``LoadImage`` said "Please check whether the file exists" for the first two, and the third was evaluated
and counted in the metrics.
"""
import os.path as osp
import test as test_tool  # (tools/test.py)

import cv2
import numpy as np
import pytest
from fault_setups import copy_split, save_model_checkpoint
from test_train_test import dump, tiny_cfg  # (tiny config; synth: conftest.py)

from pmnet_plugin.utils.cli import run_with_file_errors

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'


@pytest.fixture(scope='module')
def checkpoint(synth, tmp_path_factory):
    cfg = tiny_cfg(PMNET, synth, str(tmp_path_factory.mktemp('unused')))
    return save_model_checkpoint(cfg, str(tmp_path_factory.mktemp('ckpt') / 'pmnet.pth'))


def _spoil(path: str, kind: str) -> None:
    raw = open(path, 'rb').read()
    if kind == 'truncated':
        content = raw[:len(raw) // 2]
    elif kind == 'text':
        content = b'this is not an image\n'
    else:  # tiny: a valid 1x1 JPEG
        content = cv2.imencode('.jpg', np.full((1, 1, 3), 128, np.uint8))[1].tobytes()
    with open(path, 'wb') as f:
        f.write(content)


@pytest.mark.parametrize('kind, fault', [
    ('truncated', 'its header says JPEG: the JPEG has no end marker: the file is truncated'),
    ('text', 'match no image format OpenCV reads'),
    ('tiny', 'is only 1x1 px (below 32 px)')])
def test_bad_test_image_is_named_with_its_fault(synth, checkpoint, tmp_path, error_line, kind, fault):
    data_root = copy_split(synth, tmp_path / 'data', copy_test_images=True)
    image = osp.join(data_root, 'test', 'images', '000001.jpg')
    _spoil(image, kind)
    work = tmp_path / 'work'
    cfg_path = dump(tiny_cfg(PMNET, dict(synth, data_root=data_root), str(work)), tmp_path / 'cfg.py')
    argv = [cfg_path, checkpoint, '--work-dir', str(work), '--cfg-options', f'experiment_name={kind}']
    assert run_with_file_errors(test_tool.main, argv) == 2
    err = error_line()
    assert f"{osp.join(data_root, 'test.npz')}: sample 1: image {image}" in err
    assert fault in err and 'remove the sample from the annotation file' in err
    assert not any(p.name.startswith('rarity_') for p in work.iterdir())  # no metrics were written
