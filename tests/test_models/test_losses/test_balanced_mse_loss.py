import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch.distributions import MultivariateNormal

import pmnet_plugin.models.losses  # noqa: F401  (registers BalancedMSELoss)


def reference(pred, target, weights, sigma, coordinate_mean=True):
    """The BMC loss written out sample by sample in NumPy (float64)."""
    b = pred.shape[0]
    w = weights.reshape(b, -1).astype(np.float64)
    p = pred.reshape(b, w.shape[1], -1).astype(np.float64)
    y = target.reshape(b, w.shape[1], -1).astype(np.float64)
    var = sigma**2
    num, den = 0.0, 0.0
    for i in range(b):
        joints_i = set(np.flatnonzero(w[i] > 0))
        if not joints_i:
            continue
        cands = [j for j in range(b) if joints_i <= set(np.flatnonzero(w[j] > 0))]
        if len(cands) < 2:
            continue
        d = np.array([np.sum(w[i][:, None] * (p[i] - y[j])**2) for j in cands])
        logits = -d / (2 * var)
        m = logits.max()
        nll = -(logits[cands.index(i)] - m - np.log(np.sum(np.exp(logits - m))))
        num += nll * 2 * var
        den += w[i].sum() * p.shape[-1] if coordinate_mean else 1.0
    return num / max(den, 1.0)


def _data(b=6, j=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    target = rng.normal(size=(b, j, c)).astype(np.float32) * 0.2
    pred = (target + rng.normal(size=(b, j, c)) * 0.1).astype(np.float32)
    return pred, target


def _loss(sigma=0.3, **kwargs):
    return MODELS.build(dict(type='BalancedMSELoss', init_noise_sigma=sigma, **kwargs))


@pytest.mark.parametrize('coordinate_mean', [True, False])
def test_matches_numpy_reference_all_labelled(coordinate_mean):
    pred, target = _data()
    w = np.ones(pred.shape[:2], np.float32)
    loss = _loss(0.3, coordinate_mean=coordinate_mean)
    out = loss(torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(w))
    assert out.item() == pytest.approx(reference(pred, target, w, 0.3, coordinate_mean), rel=1e-5)


def test_matches_numpy_reference_with_masks_and_weights():
    pred, target = _data(b=8)
    w = np.ones(pred.shape[:2], np.float32)
    w[1] = 0  # no 3D label
    w[2, 3] = 0  # one joint missing: not a negative of rows that label joint 3
    w[4, [0, 3]] = 0
    w[5, 1] = 0.5  # a fractional weight
    loss = _loss(0.25)
    out = loss(torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(w))
    expected = reference(pred, target, w, 0.25)
    assert out.item() == pytest.approx(expected, rel=1e-5)
    # the masks change the value: the same batch with every label counted differs
    full = loss(torch.from_numpy(pred), torch.from_numpy(target)).item()
    assert full != pytest.approx(expected, rel=0.05)


def test_per_sample_weights_on_matrices():
    """SMPL-pose use: (B, 24, 3, 3) rotations, one weight per sample (``has_smpl``)."""
    rng = np.random.default_rng(1)
    target = rng.normal(size=(5, 24, 3, 3)).astype(np.float32)
    pred = (target + rng.normal(size=target.shape) * 0.3).astype(np.float32)
    has_smpl = np.array([1, 1, 0, 1, 1], np.float32)
    out = _loss(1.0)(torch.from_numpy(pred), torch.from_numpy(target), torch.from_numpy(has_smpl))
    assert out.item() == pytest.approx(reference(pred, target, has_smpl, 1.0), rel=1e-5)


def test_is_the_multivariate_gaussian_form():
    """All labelled and ``coordinate_mean=False``: the paper's multivariate BMC, cross-entropy over the
    log-densities ``log N(y_j; p_i, sigma^2 I)`` (normalisers included), scaled by ``2 sigma^2``."""
    pred, target = (torch.from_numpy(a).reshape(6, -1) for a in _data())
    sigma = 0.3
    dims = pred.shape[1]
    mvn = MultivariateNormal(pred[:, None], covariance_matrix=sigma**2 * torch.eye(dims))
    logits = mvn.log_prob(target[None])  # (B, B): row i, column j
    expected = F.cross_entropy(logits, torch.arange(6)) * 2 * sigma**2
    out = _loss(sigma, coordinate_mean=False)(pred, target)
    assert out.item() == pytest.approx(expected.item(), rel=1e-5)


def test_unlabelled_sample_is_neither_positive_nor_negative():
    pred, target = (torch.from_numpy(a) for a in _data(b=6))
    w = torch.ones(6, 5)
    w[2] = 0
    loss = _loss(0.3)
    out = loss(pred, target, w)
    pred2, target2 = pred.clone(), target.clone()
    pred2[2] += 5.0
    target2[2] = pred[0]  # would be a close negative of row 0 if it entered the softmax
    assert loss(pred2, target2, w).item() == pytest.approx(out.item(), rel=1e-6)
    keep = [0, 1, 3, 4, 5]
    assert loss(pred[keep], target[keep], w[keep]).item() == pytest.approx(out.item(), rel=1e-6)


def test_gradients_reach_noise_sigma_and_labelled_predictions():
    pred, target = (torch.from_numpy(a) for a in _data(b=6))
    pred.requires_grad_(True)
    w = torch.ones(6, 5)
    w[2] = 0
    loss = _loss(0.3)
    loss(pred, target, w).backward()
    grad = loss.noise_sigma.grad
    assert grad is not None and torch.isfinite(grad) and grad.abs() > 0
    assert pred.grad[2].abs().max() == 0  # no row: its prediction is not supervised
    assert pred.grad[[0, 1, 3, 4, 5]].abs().sum(dim=(1, 2)).min() > 0
    fixed = _loss(0.3, learn_noise=False)
    assert not fixed.noise_sigma.requires_grad


def test_noise_sigma_is_optimised():
    """The noise scale is a parameter: an optimiser over the module's parameters updates it."""
    pred, target = (torch.from_numpy(a) for a in _data(b=6))
    loss = _loss(0.3)
    assert [n for n, _ in loss.named_parameters()] == ['noise_sigma']
    optim = torch.optim.Adam(loss.parameters(), lr=1e-2)
    loss(pred, target).backward()
    optim.step()
    assert loss.noise_sigma.item() != pytest.approx(0.3, abs=1e-4)
    assert loss.noise_var.item() == pytest.approx(loss.noise_sigma.item()**2)


def test_limits():
    pred, target = (torch.from_numpy(a) for a in _data(b=4))
    loss = _loss(0.3)
    w = torch.zeros(4, 5)
    w[1] = 1
    one = loss(pred, target, w)  # a single labelled sample has no negative: 0, finite
    assert one.item() == 0.0
    none = loss(pred, target, torch.zeros(4, 5))
    assert none.item() == 0.0
    none.backward()  # still connected to sigma: a zero gradient, not None (DDP needs every parameter used)
    assert loss.noise_sigma.grad is not None and loss.noise_sigma.grad.item() == 0.0
    # exact predictions of well-separated labels: the softmax picks the own label, the loss vanishes
    target = torch.arange(4.)[:, None, None].expand(4, 5, 3).contiguous()
    assert _loss(0.05)(target.clone(), target).item() == pytest.approx(0.0, abs=1e-6)
    # a prediction closer to its own label gives a smaller loss
    near, far = target + 0.1, target + 0.3
    assert 0 < _loss(2.0)(near, target).item() < _loss(2.0)(far, target).item()
    with pytest.raises(ValueError, match='init_noise_sigma'):
        _loss(0.0)
