"""KeypointHeatmapNeck and its soft-argmax; KeypointHeatmapAuxHead's targets and losses."""
import torch
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from pmnet_plugin.models.heads import KeypointHeatmapAuxHead
from pmnet_plugin.models.heads.keypoint_heatmap_aux_head import gaussian_heatmaps
from pmnet_plugin.models.necks import KeypointHeatmapNeck
from pmnet_plugin.models.necks.keypoint_heatmap_neck import soft_argmax


def test_soft_argmax_finds_a_peak_in_crop_units():
    heat = torch.zeros(1, 2, 8, 16)
    heat[0, 0, 2, 5] = 10.0   # row 2, column 5
    heat[0, 1, 7, 0] = 10.0
    coords, peak = soft_argmax(heat, beta=50.0)
    expected = torch.tensor([[(5.5 / 16) * 2 - 1, (2.5 / 8) * 2 - 1], [(0.5 / 16) * 2 - 1, (7.5 / 8) * 2 - 1]])
    assert torch.allclose(coords[0], expected, atol=1e-4)
    assert torch.allclose(peak, torch.tensor([[10.0, 10.0]]))


def test_gaussian_targets_peak_at_the_labels_and_drop_outside_joints():
    keypoints = torch.tensor([[[-0.5, 0.25], [0.0, 0.0], [1.5, 0.0]]])
    heat, weights = gaussian_heatmaps(keypoints, torch.ones(1, 3), (16, 16), sigma=1.0)
    coords, _ = soft_argmax(heat[:, :2], beta=100.0)
    assert torch.allclose(coords, keypoints[:, :2], atol=0.07)
    assert weights.tolist() == [[1.0, 1.0, 0.0]]


def test_neck_output_width_and_gradient_to_the_heatmaps():
    neck = KeypointHeatmapNeck(in_channels=8, last_channels=16, num_keypoints=5, keypoint_embed_channels=32,
                               pooled_channels=12)
    feats = (torch.randn(2, 8, 4, 4, requires_grad=True), torch.randn(2, 16, 2, 2))
    heatmaps, vec = neck(feats)
    assert heatmaps.shape == (2, 5, 8, 8)
    assert vec.shape == (2, neck.out_channels) == (2, 44)
    vec.sum().backward()
    assert feats[0].grad.abs().sum() > 0


def _sample(keypoints):
    d = PoseDataSample()
    d.gt_instance_labels = InstanceData(keypoint_labels=keypoints[None], keypoint_weights=torch.ones(1, len(keypoints)))
    return d


def test_aux_head_losses_vanish_at_the_target():
    head = KeypointHeatmapAuxHead(in_channels=3, out_channels=3, deconv_out_channels=(), final_layer=None,
                                  sigma=1.0, coord_loss_weight=1.0, beta=100.0)
    keypoints = torch.tensor([[-0.5, 0.25], [0.0, 0.0], [0.6, -0.6]])
    target, _ = gaussian_heatmaps(keypoints[None], torch.ones(1, 3), (16, 16), sigma=1.0)
    good = head.loss((target, ), [_sample(keypoints)])
    bad = head.loss((torch.roll(target, 4, dims=-1), ), [_sample(keypoints)])
    assert good['loss_heatmap'] < 1e-8
    assert good['loss_heatmap_coords'] < 0.1 < bad['loss_heatmap_coords']
    assert bad['loss_heatmap'] > 1e-4
