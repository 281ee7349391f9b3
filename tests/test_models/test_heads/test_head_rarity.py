"""Both heads' predictions carry the pose rarity, its training percentile and (PM-Net) the nearest prototype."""
import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

import pmnet_plugin  # noqa: F401
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


def _head(head_type, head_kwargs, rarity_file):
    cfg = dict(head_kwargs, type=head_type, rarity_file=rarity_file)
    if head_type == 'PrototypeMemoryHead':
        cfg.update(prototype_file=rarity_file, num_prototypes=4, selector_hidden=16)
    return MODELS.build(cfg).eval()


@pytest.mark.parametrize('head_type', ['HMRHead', 'PrototypeMemoryHead'])
def test_head_predict_carries_rarity(head_type, head_kwargs, mesh_samples, rarity_file):
    head = _head(head_type, head_kwargs, rarity_file)
    assert 'rarity_scorer.quantiles' in head.state_dict()  # travels in checkpoints
    torch.manual_seed(0)
    with torch.no_grad():
        preds = head.predict((torch.randn(2, 32), ), mesh_samples(2))
    for p in preds:
        assert p.rarity.shape == (1, ) and p.rarity_percentile.shape == (1, )
        assert np.isfinite(p.rarity_percentile).all() and 0 <= p.rarity_percentile[0] <= 100
        rot = axis_angle_to_matrix(torch.from_numpy(p.smpl_pose).reshape(1, 24, 3))
        with torch.no_grad():
            again = head.rarity_scorer(head.body_model, rot, head.init_pose_rot6d, head.init_betas)
        np.testing.assert_allclose(p.rarity, again['rarity'].numpy(), rtol=1e-3, atol=1e-2)
        if head_type == 'PrototypeMemoryHead':
            assert 0 <= p.proto_nearest_id[0] < 4 and p.proto_nearest_dist[0] >= 0
            # nearest by the assignment metric: no prototype is closer
            feats = rot[0, 1:].reshape(1, -1) - head.prototype_rotmats()[:, 1:].reshape(4, -1)
            dist = torch.linalg.norm(feats.double(), dim=-1)
            assert int(dist.argmin()) == int(p.proto_nearest_id[0])
            np.testing.assert_allclose(float(dist.min()), p.proto_nearest_dist[0], atol=1e-4)
    with torch.no_grad():
        off = head.predict((torch.randn(1, 32), ), mesh_samples(1), dict(output_rarity=False))
    assert 'rarity' not in off[0] and 'keypoints_3d' in off[0]


def test_hmr_without_rarity_file_scores_but_has_no_percentile(head_kwargs, mesh_samples):
    head = MODELS.build(dict(head_kwargs, type='HMRHead')).eval()
    with torch.no_grad():
        p = head.predict((torch.randn(1, 32), ), mesh_samples(1))[0]
    assert np.isfinite(p.rarity).all() and p.rarity[0] >= 0
    assert np.isnan(p.rarity_percentile).all()
