"""The "rare pose (top x %)" label: text, threshold, placement."""
import numpy as np
from mmengine.structures import InstanceData

from pmnet_plugin.visualization.rarity_label import draw_rarity_labels, rarity_label


def test_label_text_and_threshold():
    assert rarity_label(97.25, 90) == 'rare pose (top 2.8 %)'
    assert rarity_label(100.0, 90) == 'rare pose (top 0.1 %)'
    assert rarity_label(89.9, 90) is None
    assert rarity_label(float('nan'), 0) is None


def test_only_rare_people_are_labelled_above_their_box():
    img = np.full((200, 420, 3), 128, np.uint8)
    inst = InstanceData(bboxes=np.array([[20, 80, 100, 190], [280, 80, 400, 190]], np.float32),
                        rarity_percentile=np.array([95.0, 50.0], np.float32))
    out = draw_rarity_labels(img, inst, threshold=90)
    changed = np.abs(out.astype(int) - img.astype(int)).max(-1) > 0
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 50 and ys.max() < 80  # above the first box
    assert xs.min() >= 20 and not changed[:, 280:].any()  # the second person is common: no label
    assert draw_rarity_labels(img, inst, threshold=99) is img  # nobody passes: unchanged
    no_pct = InstanceData(bboxes=inst.bboxes)
    assert draw_rarity_labels(img, no_pct) is img
