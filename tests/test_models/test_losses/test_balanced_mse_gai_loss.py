"""Balanced MSE, GAI form: the loss against a direct NumPy evaluation of its formula."""
import math

import numpy as np
import pytest
import torch

from pmnet_plugin.models.losses import BalancedMSEGAILoss


@pytest.fixture
def gmm_file(tmp_path):
    rng = np.random.default_rng(0)
    m, d = 3, 6
    a = rng.normal(0, 0.3, (m, d, d))
    np.savez(tmp_path / 'gmm.npz', weights=np.array([0.5, 0.3, 0.2]), means=rng.normal(0, 1, (m, d)),
             covariances=a @ a.transpose(0, 2, 1) + 0.05 * np.eye(d))
    return str(tmp_path / 'gmm.npz')


def _log_normal(x, mean, cov):
    d = len(x)
    diff = x - mean
    return -0.5 * (diff @ np.linalg.solve(cov, diff) + np.linalg.slogdet(cov)[1] + d * math.log(2 * math.pi))


def test_matches_numpy(gmm_file):
    loss = BalancedMSEGAILoss(gmm_file, init_noise_sigma=0.7, coordinate_mean=False)
    g = np.load(gmm_file)
    rng = np.random.default_rng(1)
    pred, target = rng.normal(0, 1, (5, 2, 3)), rng.normal(0, 1, (5, 2, 3))
    var = 0.7**2
    want = []
    for p, y in zip(pred.reshape(5, -1), target.reshape(5, -1)):
        nll = -_log_normal(y, p, var * np.eye(6))
        prior = [math.log(w) + _log_normal(p, mu, cov + var * np.eye(6))
                 for w, mu, cov in zip(g['weights'], g['means'], g['covariances'])]
        want.append((nll + np.logaddexp.reduce(prior)) * 2 * var)
    got = loss(torch.tensor(pred, dtype=torch.float32), torch.tensor(target, dtype=torch.float32))
    assert got.item() == pytest.approx(np.mean(want), rel=1e-4)
    per_coordinate = BalancedMSEGAILoss(gmm_file, init_noise_sigma=0.7)
    assert per_coordinate(torch.tensor(pred).float(), torch.tensor(target).float()).item() == \
        pytest.approx(np.mean(want) / 6, rel=1e-4)


def test_rows_with_a_missing_label_are_left_out_and_sigma_learns(gmm_file):
    loss = BalancedMSEGAILoss(gmm_file, init_noise_sigma=0.5)
    pred = torch.randn(4, 2, 3, requires_grad=True)
    target = torch.randn(4, 2, 3)
    weights = torch.ones(4, 2)
    weights[3, 1] = 0
    full = loss(pred[:3], target[:3])
    masked = loss(pred, target, weights)
    assert masked.item() == pytest.approx(full.item(), rel=1e-5)
    masked.backward()
    assert pred.grad[3].abs().max() == 0 and pred.grad[:3].abs().max() > 0
    assert loss.noise_sigma.grad is not None and loss.noise_sigma.grad != 0


def test_label_size_must_match_the_mixture(gmm_file):
    with pytest.raises(ValueError, match='numbers'):
        BalancedMSEGAILoss(gmm_file, init_noise_sigma=0.5)(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))
