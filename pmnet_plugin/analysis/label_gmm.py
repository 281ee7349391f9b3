"""The Gaussian mixture of training labels that Balanced MSE's GAI form balances against."""
import os
import os.path as osp

import numpy as np

from pmnet_plugin.utils.atomic_io import atomic_write


def fit_label_gmm(labels: np.ndarray, out_file: str, num_components: int = 8, seed: int = 0,
                  reg_covar: float = 1e-6) -> str:
    """Fits scikit-learn's ``GaussianMixture`` (full covariances) to labels and saves it.

    Args:
        labels (np.ndarray): Training labels flattened to (N, D), in the unit of the loss's targets.
        out_file (str): ``.npz`` with ``weights`` (M,), ``means`` (M, D), ``covariances`` (M, D, D), read by
            :class:`BalancedMSEGAILoss`; written atomically.
        num_components (int): M. Defaults to 8.
        seed (int): Seed of the k-means initialisation. Defaults to 0.
        reg_covar (float): Added to the covariances' diagonals. Defaults to 1e-6.

    Returns:
        str: ``out_file``.
    """
    from sklearn.mixture import GaussianMixture
    labels = np.asarray(labels, np.float64).reshape(len(labels), -1)
    if not np.isfinite(labels).all() or len(labels) < num_components:
        raise ValueError(f'fit_label_gmm: {len(labels)} labels (finite: {np.isfinite(labels).all()}) for '
                         f'{num_components} components')
    gmm = GaussianMixture(num_components, covariance_type='full', reg_covar=reg_covar, random_state=seed,
                          max_iter=200).fit(labels)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    atomic_write(out_file, lambda tmp: np.savez(tmp, weights=gmm.weights_, means=gmm.means_,
                                                covariances=gmm.covariances_, num_labels=len(labels)))
    return out_file
