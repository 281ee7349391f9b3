"""Balanced MSE, batch-based Monte Carlo (BMC) form (Ren et al., "Balanced MSE for Imbalanced Visual
Regression", CVPR 2022), for multi-dimensional targets with per-sample / per-joint label weights."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class BalancedMSELoss(nn.Module):
    """Balanced MSE with the label distribution estimated by the batch (BMC) and a learnable noise scale.

    For prediction ``p_i`` and labels ``y_j`` of the batch, with ``d_ij = ||p_i - y_j||^2`` over the
    target coordinates (the paper's multivariate form, covariance ``sigma^2 I``), the loss of sample i is
    ``-log softmax_j(-d_ij / (2 sigma^2))[i] * (2 sigma^2).detach()``: a contrast of the sample's own
    label against the other labels of the batch, so frequent labels weigh less than under MSE. The
    parameter is ``noise_sigma`` (``sigma^2`` is its square), as in the authors' code.

    Label weights (our choice; the paper has none): ``weights`` (B,) or (B, J) weigh each joint's squared
    error in ``d_ij`` (row i uses the weights of its positive ``y_i``). A sample whose weights are all 0
    is neither a positive (no loss row) nor a negative (no column). Sample j is a negative of row i only
    where ``y_j`` labels every joint that ``y_i`` labels, so that all candidates of a row are compared
    over the same coordinates and the Gaussian normalisers cancel. A row without a negative is left out
    (its loss would be 0 whatever the prediction).

    Args:
        init_noise_sigma (float): Initial ``sigma``, in the unit of the targets (metres for 3D joints); no
            default, as it depends on the spacing of the labels (``docs/model.md``).
        learn_noise (bool): Optimise ``sigma`` with the model (the paper's default). Defaults to True.
        coordinate_mean (bool): Divide by the labelled coordinates (sum of weights x coordinates per joint),
            as a per-coordinate MSE averages over them, so a term weight applies per coordinate in both.
            False: the paper's scale (summed over coordinates, mean over samples). Defaults to True.

    Note:
        - batch size: B
        - joints (or 1 for per-sample weights): J
        - coordinates per joint: C (3 for 3D joints, 9 for rotation matrices)
    """

    def __init__(self, init_noise_sigma: float, learn_noise: bool = True, coordinate_mean: bool = True):
        super().__init__()
        if init_noise_sigma <= 0:
            raise ValueError(f'BalancedMSELoss: init_noise_sigma must be > 0, got {init_noise_sigma}.')
        self.noise_sigma = nn.Parameter(torch.tensor(float(init_noise_sigma)), requires_grad=learn_noise)
        self.coordinate_mean = coordinate_mean

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
