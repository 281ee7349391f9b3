"""PersonDetector: mmdet config lookup, the missing-checkpoint message, random-init detection."""
import warnings

import numpy as np
import pytest
from mesh_model_setup import random_person_detector
from mmengine.registry import DefaultScope, init_default_scope

from pmnet_plugin.apis.detection import (DEFAULT_DET_CONFIG, MissingCheckpointError, PersonDetector,
                                         checkpoint_url, mmdet_config_path)

RTMDET_URL = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/'
              'rtmdet_tiny_8xb32-300e_coco/'
              'rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth')


def test_default_config_and_published_weights():
    path = mmdet_config_path(DEFAULT_DET_CONFIG)
    assert path.endswith('rtmdet_tiny_8xb32-300e_coco.py')
    assert checkpoint_url(path) == RTMDET_URL
    with pytest.raises(FileNotFoundError):
        mmdet_config_path('rtmdet/no_such_config.py')


def test_missing_checkpoint_says_what_and_where(tmp_path):
    with pytest.raises(MissingCheckpointError) as err:
        PersonDetector(DEFAULT_DET_CONFIG, str(tmp_path / 'absent.pth'))
    msg = str(err.value)
    assert RTMDET_URL in msg and 'absent.pth' in msg
    assert '--bbox-file' in msg and '--whole-image' in msg


def test_random_init_detector_returns_sorted_person_boxes():
    det = random_person_detector()
    img = np.random.RandomState(0).randint(0, 255, (96, 128, 3)).astype(np.uint8)
    boxes = det(img, score_thr=0.0, max_persons=5)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and 1 <= len(boxes) <= 5
    assert (np.diff(boxes[:, 4]) <= 0).all()
    assert (boxes[:, 2:4] > boxes[:, :2]).all() and (boxes[:, 4] >= 0.4).all()
    assert det(img, score_thr=1.01).shape == (0, 5)


def test_default_scope_and_warning_filters_are_kept():
    init_default_scope('mmpose')
    filters = list(warnings.filters)
    det = random_person_detector()
    assert DefaultScope.get_current_instance().scope_name == 'mmpose'
    assert warnings.filters == filters  # init_detector's simplefilter('once') does not leak
    det(np.zeros((64, 64, 3), np.uint8), score_thr=0.0)
    assert DefaultScope.get_current_instance().scope_name == 'mmpose'
