"""Balanced MSE, GMM-based analytic integration (GAI) form (Ren et al., "Balanced MSE for Imbalanced Visual
Regression", CVPR 2022), for multi-dimensional targets."""
import math
from typing import Dict, Optional

import numpy as np
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


def load_label_gmm(path: str) -> Dict[str, np.ndarray]:
    """A Gaussian mixture of training labels: ``weights`` (M,), ``means`` (M, D), ``covariances`` (M, D, D)."""
    with np.load(path, allow_pickle=False) as f:
        missing = {'weights', 'means', 'covariances'} - set(f.files)
        if missing:
            raise KeyError(f'{path}: a label GMM file needs {sorted(missing)} (written by '
                           'pmnet_plugin.analysis.label_gmm.fit_label_gmm)')
        gmm = {k: np.asarray(f[k], np.float64) for k in ('weights', 'means', 'covariances')}
    m, d = gmm['means'].shape
    if gmm['weights'].shape != (m, ) or gmm['covariances'].shape != (m, d, d):
        raise ValueError(f'{path}: GMM shapes weights {gmm["weights"].shape}, means {gmm["means"].shape}, '
                         f'covariances {gmm["covariances"].shape} do not agree')
    return gmm


@MODELS.register_module()
class BalancedMSEGAILoss(nn.Module):
    """Balanced MSE with the training label distribution given as a Gaussian mixture (GAI).

    For a prediction p and its label y (D numbers), the mixture ``(pi_m, mu_m, Sigma_m)`` fitted to the
    training labels and a noise scale ``sigma``, a sample scores
    ``[-log N(y; p, sigma^2 I) + log sum_m pi_m N(p; mu_m, Sigma_m + sigma^2 I)] * (2 sigma^2).detach()``:
    the second term removes the likelihood that the label prior alone gives p, so frequent labels stop
    pulling predictions towards them. Rows with an unlabelled coordinate are left out, as the mixture
    describes complete labels. ``sigma`` is learnable, as in the paper; give it its own learning rate with
    ``paramwise_cfg.custom_keys={'noise_sigma': ...}``.

    Args:
        gmm_file (str): ``.npz`` with ``weights`` (M,), ``means`` (M, D), ``covariances`` (M, D, D) in the
            unit of the targets (:func:`load_label_gmm`).
        init_noise_sigma (float): Initial ``sigma`` (``noise_sigma``); no default.
        learn_noise (bool): Optimise ``sigma``. Defaults to True.
        coordinate_mean (bool): Divide by D, the scale of a per-coordinate MSE; False: the paper's scale.
            Defaults to True.

    Note:
        - batch size: B;  joints (1 for per-sample weights): J;  D = the numbers of one label
    """

    def __init__(self, gmm_file: str, init_noise_sigma: float, learn_noise: bool = True,
                 coordinate_mean: bool = True):
        super().__init__()
        if init_noise_sigma <= 0:
            raise ValueError(f'BalancedMSEGAILoss: init_noise_sigma must be > 0, got {init_noise_sigma}.')
        gmm = load_label_gmm(gmm_file)
        self.register_buffer('gmm_log_weights', torch.from_numpy(np.log(gmm['weights'])).float())
        self.register_buffer('gmm_means', torch.from_numpy(gmm['means']).float())
        self.register_buffer('gmm_covariances', torch.from_numpy(gmm['covariances']).float())
        self.noise_sigma = nn.Parameter(torch.tensor(float(init_noise_sigma)), requires_grad=learn_noise)
        self.coordinate_mean = coordinate_mean

    @property
    def noise_var(self) -> Tensor:
        """Tensor: ``sigma^2``, a scalar."""
        return self.noise_sigma**2

    def forward(self, pred: Tensor, target: Tensor, weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predictions (B, J, ...) flattening to (B, D).
            target (Tensor): Labels, the shape of ``pred``.
            weights (Tensor, optional): Label weights (B, J) or (B,); a row counts when all are > 0.

        Returns:
            Tensor: Scalar, the mean over the counted rows (0 when there is none).
        """
        b = pred.shape[0]
        p, y = pred.reshape(b, -1).float(), target.reshape(b, -1).float()
        d = p.shape[1]
        if d != self.gmm_means.shape[1]:
            raise ValueError(f'BalancedMSEGAILoss: labels have {d} numbers, the GMM {self.gmm_means.shape[1]}')
        rows = p.new_ones(b) if weights is None else (weights.reshape(b, -1) > 0).all(1).float()
        var = self.noise_var.float()
        nll = 0.5 * ((p - y)**2).sum(1) / var + 0.5 * d * torch.log(2 * math.pi * var)
        eye = torch.eye(d, device=p.device)
        chol = torch.linalg.cholesky(self.gmm_covariances + var * eye)  # (M, D, D)
        diff = (p[:, None] - self.gmm_means[None]).unsqueeze(-1)  # (B, M, D, 1)
        sol = torch.linalg.solve_triangular(chol.expand(b, -1, -1, -1), diff, upper=False)
        maha = sol.squeeze(-1).pow(2).sum(-1)  # (B, M)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (M,)
        log_prior = -0.5 * (maha + logdet + d * math.log(2 * math.pi)) + self.gmm_log_weights
        per_sample = (nll + torch.logsumexp(log_prior, 1)) * (2 * var).detach()
        denom = rows.sum() * (d if self.coordinate_mean else 1)
        return (per_sample * rows).sum() / denom.clamp(min=1.0)
