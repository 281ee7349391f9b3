"""Hand-computed checks of the pure evaluation functions (and agreement with MMPose)."""
import numpy as np
import pytest

from pmnet_plugin.evaluation.functional import (balanced_mean, binned_stats, knn_distance,
                                                mesh_rarity, nearest_distance, pelvis_align,
                                                per_sample_mpjpe, per_sample_pve, select_tail,
                                                similarity_procrustes, tail_tag)


def _rotation(axis, angle):
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_known_similarity_gives_zero_pa_mpjpe():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 14, 3))
    rot = _rotation([1, 2, 3], 0.7)
    pred = 1.8 * gt @ rot.T + np.array([0.3, -2.0, 5.0])
    pa = per_sample_mpjpe(pred, gt, alignment='procrustes')
    assert np.allclose(pa, 0, atol=1e-9)
    assert (per_sample_mpjpe(pred, gt) > 0.1).all()
    assert np.allclose(similarity_procrustes(pred, gt), gt, atol=1e-9)


def _weighted_umeyama(pred, gt, w):
    """Batched Umeyama fit with 0/1 joint weights and the reflection removed, written out in NumPy."""
    wsum = w.sum(axis=1)[:, None]
    mu1 = (w[..., None] * pred).sum(axis=1) / wsum
    mu2 = (w[..., None] * gt).sum(axis=1) / wsum
    x1, x2 = pred - mu1[:, None], gt - mu2[:, None]
    var1 = (w[..., None] * x1**2).sum(axis=(1, 2))
    k = np.einsum('nj,nja,njb->nab', w, x1, x2)
    u, _, vh = np.linalg.svd(k)
    z = np.tile(np.eye(3), (len(pred), 1, 1))
    z[:, -1, -1] = np.sign(np.linalg.det(u @ vh))
    rot = np.swapaxes(vh, 1, 2) @ z @ np.swapaxes(u, 1, 2)
    trace = np.einsum('nii->n', rot @ k)
    scale = np.divide(trace, var1, out=np.zeros_like(trace), where=var1 > 0)
    t = mu2 - scale[:, None] * np.einsum('nab,nb->na', rot, mu1)
    return scale[:, None, None] * np.einsum('nab,njb->nja', rot, pred) + t[:, None]


def test_masked_procrustes_matches_a_direct_umeyama_fit():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(40, 17, 3)) * 300
    pred = 0.9 * gt @ _rotation([0, 1, 1], 1.1).T + rng.normal(size=gt.shape) * 40 + 50
    pred[0] = gt[0] * np.array([-1.0, 1.0, 1.0])  # a mirror image
    mask = rng.random((40, 17)) > 0.3
    mask[1:5] = False
    mask[1, 5] = True  # one valid joint: mapped onto its ground truth
    mask[2, [3, 9]] = True  # two
    mask[3, [1, 2, 4]] = True  # three
    mask[4] = True
    ref = _weighted_umeyama(pred, gt, mask.astype(np.float64))
    ours = similarity_procrustes(pred, gt, mask)
    assert ours.shape == pred.shape and ours.dtype == np.float64
    np.testing.assert_allclose(ours[mask], ref[mask], rtol=0, atol=1e-6)
    assert np.isnan(ours[~mask]).all()
    ref_err = (np.linalg.norm(ref - gt, axis=-1) * mask).sum(1) / mask.sum(1)
    pa = per_sample_mpjpe(pred, gt, mask, alignment='procrustes')
    np.testing.assert_allclose(pa, ref_err, rtol=0, atol=1e-6)
    assert pa[1] == 0.0 and pa[0] > 1.0
    mask[5] = False
    assert np.isnan(per_sample_mpjpe(pred, gt, mask, alignment='procrustes')[5])


def test_masked_joints_do_not_affect_the_fit():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(3, 14, 3))
    pred = 0.5 * gt @ _rotation([3, -1, 2], 2.0).T + np.array([1.0, 2.0, -3.0])
    pred[:, :4] = rng.normal(size=(3, 4, 3)) * 100  # wrong, but masked out
    mask = np.ones((3, 14), dtype=bool)
    mask[:, :4] = False
    assert np.allclose(per_sample_mpjpe(pred, gt, mask, alignment='procrustes'), 0, atol=1e-9)
    assert np.allclose(similarity_procrustes(pred, gt, mask)[:, 4:], gt[:, 4:], atol=1e-9)


def test_hand_computed_mpjpe_and_mask():
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 10.0]]])
    assert per_sample_mpjpe(pred, gt)[0] == pytest.approx(7.5)
    assert per_sample_mpjpe(pred, gt, mask=np.array([[True, False]]))[0] == pytest.approx(5.0)
    assert np.isnan(per_sample_mpjpe(pred, gt, mask=np.zeros((1, 2), bool))[0])


@pytest.mark.parametrize('alignment', ['none', 'procrustes'])
def test_agrees_with_mmpose_keypoint_mpjpe(alignment):
    from mmpose.evaluation.functional import keypoint_mpjpe
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(6, 17, 3)) * 300
    pred = gt + rng.normal(size=gt.shape) * 40
    pred[0] = gt[0] * np.array([-1.0, 1.0, 1.0])  # a mirror image: reflection must not be allowed
    mask = np.ones((6, 17), dtype=bool)
    ours = per_sample_mpjpe(pred, gt, mask, alignment).mean()
    theirs = keypoint_mpjpe(pred, gt, mask, alignment)
    assert ours == pytest.approx(theirs, abs=1e-6)
    if alignment == 'procrustes':
        assert per_sample_mpjpe(pred[:1], gt[:1], alignment=alignment)[0] > 1.0


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match='mismatched'):
        per_sample_mpjpe(np.zeros((3, 14, 3)), np.zeros((2, 14, 3)))
    with pytest.raises(ValueError, match='alignment'):
        per_sample_mpjpe(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), alignment='scale')


def test_pelvis_align_pve_and_mesh_rarity():
    pts = np.arange(12, dtype=np.float64).reshape(2, 2, 3)
    centred = pelvis_align(pts, pts[:, 0])
    assert np.allclose(centred[:, 0], 0) and np.allclose(centred[:, 1], 3)
    mean = np.zeros((5, 3))
    verts = np.zeros((2, 5, 3))
    verts[1, :, 2] = 2.0
    verts[1, 0] = [0.0, 6.0, 8.0]  # distance 10 for one vertex, 2 for the other four
    assert np.allclose(mesh_rarity(verts, mean), [0.0, (10 + 4 * 2) / 5])
    assert np.allclose(per_sample_pve(verts, verts[::-1]), [(10 + 8) / 5] * 2)


def test_knn_and_nearest_distance():
    ref = np.array([[0.0], [1.0], [10.0]])
    q = np.array([[0.4], [9.0]])
    assert np.allclose(nearest_distance(q, ref), [0.4, 1.0])
    assert np.allclose(knn_distance(q, ref, k=2), [(0.4 + 0.6) / 2, (1.0 + 8.0) / 2])
    with pytest.raises(ValueError):
        knn_distance(q, ref, k=4)


def test_knn_distance_matches_direct_numpy():
    rng = np.random.default_rng(4)
    q = rng.normal(size=(37, 20)).astype(np.float32)
    ref = rng.normal(size=(50, 20))
    direct = np.sqrt(((q[:, None].astype(np.float64) - ref[None])**2).sum(-1))  # (37, 50)
    for k in (1, 5):
        out = knn_distance(q, ref, k=k, chunk=8)
        assert out.shape == (37,) and out.dtype == np.float64
        np.testing.assert_allclose(out, np.sort(direct, axis=1)[:, :k].mean(1), rtol=1e-9)
    # a reference pose is at distance 0 of itself (up to the rounding of the matrix-product form)
    np.testing.assert_allclose(nearest_distance(ref[5:8], ref), 0.0, atol=1e-6)


def test_select_tail_picks_rarest():
    scores = np.array([1.0, 5.0, 3.0, 9.0, 2.0])
    assert select_tail(scores, 0.4).nonzero()[0].tolist() == [1, 3]
    scores = np.zeros(20)
    scores[[4, 17]] = [7.0, 8.0]
    assert set(select_tail(scores, 0.1).nonzero()[0]) == {4, 17}
    assert select_tail(scores, 0.05).nonzero()[0].tolist() == [17]  # ceil(0.05 * 20) = 1
    assert select_tail(np.ones(3), 0.01).sum() == 1  # at least one sample
    with pytest.raises(ValueError):
        select_tail(scores, 0.0)
    assert (tail_tag(0.1), tail_tag(0.05), tail_tag(0.025)) == ('tail10', 'tail5', 'tail2.5')


def test_balanced_mean_hand_computation():
    scores = np.array([0.0, 0.1, 0.2, 1.0])
    errors = np.array([1.0, 3.0, 5.0, 11.0])
    # 2 bins: [0, 0.5) -> mean(1, 3, 5) = 3; [0.5, 1] -> 11; balanced = 7 (plain mean = 5)
    assert balanced_mean(scores, errors, num_bins=2) == pytest.approx(7.0)
    # 10 bins: 0.0 -> bin 0, 0.1 -> bin 1, 0.2 -> bin 2, 1.0 -> bin 9, the 6 empty bins are skipped
    assert balanced_mean(scores, errors, num_bins=10) == pytest.approx((1 + 3 + 5 + 11) / 4)
    st = binned_stats(scores, errors, num_bins=2)
    assert st['counts'].tolist() == [3, 1] and np.allclose(st['edges'], [0, 0.5, 1])
    st = binned_stats(scores, errors, num_bins=4, value_range=(0.0, 2.0))
    assert st['counts'].tolist() == [3, 0, 1, 0] and np.isnan(st['means'][1])
