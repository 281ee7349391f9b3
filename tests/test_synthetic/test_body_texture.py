"""The part-coloured suit tells left from right and front from back."""
import numpy as np

from pmnet_plugin.synthetic.body_texture import FACE, HAIR, jitter_colors, part_vertex_colors


def test_left_right_front_back_colours(body_model_files):
    import pickle
    with open(body_model_files['model_path'], 'rb') as f:
        smpl = pickle.load(f, encoding='latin1')
    weights, verts = np.asarray(smpl['weights']), np.asarray(smpl['v_template'])
    colors = part_vertex_colors(weights, verts)
    part = weights.argmax(1)
    for left, right in ((1, 2), (4, 5), (16, 17), (18, 19)):
        assert np.abs(colors[part == left].mean(0) - colors[part == right].mean(0)).sum() > 0.5
    head = part == 15
    front = head & (verts[:, 2] > np.median(verts[head, 2]) + 0.05)
    back = head & (verts[:, 2] < np.median(verts[head, 2]) - 0.05)
    assert np.allclose(colors[front], FACE) and np.allclose(colors[back], HAIR)
    jittered = jitter_colors(colors, np.random.default_rng(0))
    assert jittered.shape == colors.shape and 0 <= jittered.min() and jittered.max() <= 1
    assert not np.allclose(jittered, colors)
