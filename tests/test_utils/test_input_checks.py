"""read_image / tiny_image_warning / drop_invalid_boxes: the fault and the file in one line."""
import logging

import cv2
import numpy as np
import pytest

from pmnet_plugin.utils import input_checks
from pmnet_plugin.utils.input_checks import (ImageReadError, drop_invalid_boxes, read_image,
                                             tiny_image_warning)


def test_read_image_faults(tmp_path):
    with pytest.raises(ImageReadError, match=r'missing\.png does not exist'):
        read_image(str(tmp_path / 'missing.png'))
    txt = tmp_path / 'notes.png'
    txt.write_bytes(b'hello, not a picture')
    with pytest.raises(ImageReadError, match=r'first bytes \(68 65 6c 6c 6f 2c 20 6e\) match no image '
                       r'format OpenCV reads: the file is corrupt or truncated, or not an image'):
        read_image(str(txt))
    png = str(tmp_path / 'ok.png')
    cv2.imwrite(png, np.zeros((4, 5, 3), np.uint8))
    assert read_image(png).shape == (4, 5, 3)


def test_partly_decoded_jpeg_warns(tmp_path, monkeypatch, caplog):
    """OpenCV 4.x decodes a truncated JPEG partly (5.x refuses it); the partial image gets a warning."""
    path = str(tmp_path / 'a.jpg')
    cv2.imwrite(path, np.full((16, 16, 3), 200, np.uint8))
    data = open(path, 'rb').read()
    (tmp_path / 'cut.jpg').write_bytes(data[:len(data) - 10])
    monkeypatch.setattr(input_checks.cv2, 'imdecode', lambda buf, flags: np.zeros((16, 16, 3), np.uint8))
    with caplog.at_level(logging.WARNING):
        read_image(path)
        assert caplog.text == ''
        read_image(str(tmp_path / 'cut.jpg'))
    assert 'cut.jpg: the JPEG has no end marker (truncated)' in caplog.text


def test_tiny_image_warning_threshold():
    assert tiny_image_warning((32, 200)) is None
    msg = tiny_image_warning((31, 200), (256, 192), name='x.jpg')
    assert msg.startswith('x.jpg is only 200x31 px: its crop is upscaled about 8x to the 256x192')


def test_drop_invalid_boxes_says_which():
    boxes = np.array([[0, 0, 10, 10, 0.9], [np.nan, 0, 5, 5, 1], [2, 2, np.inf, 4, 1],
                      [30, 30, 40, 40, 1], [5, 5, 5.5, 9, 1]], np.float32)
    kept, note = drop_invalid_boxes(boxes, (20, 20))
    np.testing.assert_array_equal(kept, boxes[:1])
    assert note == ('dropped 4 of 5 person boxes: 2 with NaN/inf values (rows [1, 2]); 2 narrower or '
                    'shorter than 1 px after clipping to the 20x20 image')
    kept, note = drop_invalid_boxes(boxes[:1], (20, 20))
    assert note is None and kept.shape == (1, 5)
    kept, note = drop_invalid_boxes(np.zeros((0, 5)), (20, 20))
    assert kept.shape == (0, 5) and note is None
