"""Balanced MSE, batch-based Monte Carlo (BMC) form (Ren et al., "Balanced MSE for Imbalanced Visual
Regression", CVPR 2022), for multi-dimensional targets with per-sample / per-joint label weights."""
import logging
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpose.registry import MODELS
from torch import Tensor, nn

from pmnet_plugin.utils.cfg_options import ArgumentCheckError

# below it, sigma^2 is so small that -d / (2 sigma^2) overflows to -inf for every label and the loss is NaN
# (float32; our floor, in the unit of the targets)
NOISE_SIGMA_FLOOR = 1e-3


@MODELS.register_module()
class BalancedMSELoss(nn.Module):
    """Balanced MSE with the label distribution estimated by the batch (BMC) and a learnable noise scale.

    With ``d_ij = ||p_i - y_j||^2`` between prediction i and label j of the batch, sample i scores
    ``-log softmax_j(-d_ij / (2 sigma^2))[i] * (2 sigma^2).detach()``: its own label against the other
    labels, so frequent labels weigh less than under MSE. Label weights weigh each joint's squared error;
    how they select positives and negatives (our choice) is in ``docs/model.md``.

    A batch needs at least 2 samples: with one, its label has nothing to be contrasted with and the loss is
    0 (a warning is logged once).

    Args:
        init_noise_sigma (float): Initial ``sigma`` (``noise_sigma``), in the unit of the targets, at least
            :data:`NOISE_SIGMA_FLOOR`; no default.
        learn_noise (bool): Optimise ``sigma`` with the model (the paper's default). Defaults to True.
        coordinate_mean (bool): Divide by the labelled coordinates, as a per-coordinate MSE does; False:
            the paper's scale (summed over coordinates). Defaults to True.

    Note:
        - batch size: B;  joints (1 for per-sample weights): J;  coordinates per joint: C
    """

    def __init__(self, init_noise_sigma: float, learn_noise: bool = True, coordinate_mean: bool = True):
        super().__init__()
        if not init_noise_sigma >= NOISE_SIGMA_FLOOR:
            raise ArgumentCheckError(
                f'BalancedMSELoss: init_noise_sigma must be at least {NOISE_SIGMA_FLOOR:g} (in the unit of the '
                f'targets), got {init_noise_sigma}: below it the logits -d / (2 sigma^2) overflow and the loss is '
                'NaN from the first iteration. The shipped configs use 0.5 (metres).')
        self.noise_sigma = nn.Parameter(torch.tensor(float(init_noise_sigma)), requires_grad=learn_noise)
        self.coordinate_mean = coordinate_mean
        self._warned_small_batch = False

    @property
    def noise_var(self) -> Tensor:
        """Tensor: ``sigma^2``, a scalar."""
        return self.noise_sigma**2

    def forward(self, pred: Tensor, target: Tensor, weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predictions, shape (B, J, ...) or (B, ...) for per-sample weights.
            target (Tensor): Labels, the shape of ``pred``.
            weights (Tensor, optional): Label weights (B, J) or (B,); all ones when None.

        Returns:
            Tensor: Scalar, the mean over the rows with a label and a negative (0 when there is none).
        """
        b = pred.shape[0]
        if b < 2 and self.training and not self._warned_small_batch:
            self._warned_small_batch = True
            print_log('BalancedMSELoss: a batch of 1 sample has no other label to contrast with, so the Balanced '
                      'MSE term is 0 and trains nothing; use a batch size of at least 2 (the batch estimates '
                      'the label distribution).', logger='current', level=logging.WARNING)
        if weights is None:
            weights = pred.new_ones(b)
        w = weights.reshape(b, -1).to(pred.dtype)  # (B, J)
        p = pred.reshape(b, w.shape[1], -1)  # (B, J, C)
        y = target.reshape(b, w.shape[1], -1).to(pred.dtype)
        var = self.noise_var.to(pred.dtype)
        # d_ij over the joints labelled in y_i (the row's positive)
        dist = ((p[:, None] - y[None])**2).sum(-1)  # (B, B, J)
        dist = (dist * w[:, None]).sum(-1)
        labelled = w > 0
        has_label = labelled.any(1)
        covers = ~(labelled[:, None] & ~labelled[None]).any(-1)  # y_j labels every joint of y_i
        valid = covers & has_label[:, None] & has_label[None]
        valid = valid | torch.eye(b, dtype=torch.bool, device=pred.device)
        logits = (-dist / (2 * var)).masked_fill(~valid, float('-inf'))
        nll = -F.log_softmax(logits, dim=1).diagonal()  # (B,)
        per_sample = nll * (2 * var).detach()
        rows = (has_label & (valid.sum(1) > 1)).to(pred.dtype)  # labelled, with a negative
        denom = (w.sum(1) * p.shape[-1] * rows).sum() if self.coordinate_mean else rows.sum()
        return (per_sample * rows).sum() / denom.clamp(min=1.0)
