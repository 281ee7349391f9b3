"""Fixed-ratio mixing of several datasets into one epoch (SPIN's training mix)."""
from copy import deepcopy
from typing import List, Optional, Sequence, Union

import numpy as np
from mmpose.registry import DATASETS
from torch.utils.data import Dataset


def _largest_remainder(ratios: np.ndarray, total: int) -> np.ndarray:
    """Integer counts proportional to ``ratios`` that sum exactly to ``total``."""
    raw = ratios / ratios.sum() * total
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind='stable')
    counts[order[:total - counts.sum()]] += 1
    return counts


@DATASETS.register_module()
class MixedSMPLDataset(Dataset):
    """Draw ``num_samples`` samples per epoch from several datasets with fixed ratios.

    SPIN (Kolotouros et al. 2019) draws the dataset of each item at random; we make the mix exact and
    reproducible (our choice): ``round(ratio_k * num_samples)`` slots of dataset ``k`` (largest remainder),
    each walking its own seeded permutation, slots shuffled with the same seed. :meth:`set_epoch` moves
    every permutation on, so later epochs see the rows an earlier one skipped.

    Args:
        datasets (list[dict | Dataset]): Dataset configs (built with ``DATASETS``) or instances.
        ratios (list[float]): Sampling ratios; normalised to sum 1.
        num_samples (int, optional): Samples per epoch. Defaults to the sum of the dataset lengths.
        seed (int): Seed of the permutations. Defaults to 0.
        pipeline (list, optional): Set as ``pipeline`` of every dataset config that has none.
        lazy_init (bool): Accepted for MMEngine compatibility (datasets are built eagerly).
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, Dataset]],
                 ratios: Sequence[float],
                 num_samples: Optional[int] = None,
                 seed: int = 0,
                 pipeline: Optional[List[dict]] = None,
                 lazy_init: bool = False) -> None:
        if len(datasets) != len(ratios) or not datasets:
            raise ValueError(f'MixedSMPLDataset: {len(datasets)} datasets but {len(ratios)} ratios')
        ratios = np.asarray(ratios, np.float64)
        if (ratios < 0).any() or ratios.sum() <= 0:
            raise ValueError(f'MixedSMPLDataset: ratios must be >= 0 with a positive sum: {ratios}')
        self.datasets = []
        for cfg in datasets:
            if isinstance(cfg, dict):
                cfg = deepcopy(cfg)
                if pipeline is not None and not cfg.get('pipeline'):
                    cfg['pipeline'] = pipeline
                cfg = DATASETS.build(cfg)
            self.datasets.append(cfg)
        sets = {getattr(d, 'joint_set', None) for d in self.datasets}
        if len(sets) > 1:
            raise ValueError(f'MixedSMPLDataset: the datasets use different joint sets '
                             f'{sorted(map(str, sets))}; a batch holds one joint set (give every '
                             'dataset the same joint_set)')
        self.lengths = np.array([len(d) for d in self.datasets], np.int64)
        if (self.lengths[ratios > 0] == 0).any():
            raise ValueError(f'MixedSMPLDataset: an empty dataset has a positive ratio: '
                             f'lengths {self.lengths.tolist()}')
        self.ratios = ratios / ratios.sum()
        self.num_samples = int(num_samples or self.lengths.sum())
        self.seed = seed
        self.counts = _largest_remainder(self.ratios, self.num_samples)
        rng = np.random.default_rng(seed)
        self._perms = [rng.permutation(n) if n else np.zeros(0, np.int64) for n in self.lengths]
        slots = np.repeat(np.arange(len(self.datasets)), self.counts)
        self._slot_dataset = rng.permutation(slots).astype(np.int64)
        # ordinal of each slot among the slots of its dataset
        self._slot_ordinal = np.zeros(self.num_samples, np.int64)
        for k in range(len(self.datasets)):
            pos = np.nonzero(self._slot_dataset == k)[0]
            self._slot_ordinal[pos] = np.arange(pos.size)
        self.epoch = 0

    @property
    def metainfo(self) -> dict:
        """Metainfo of the first dataset (all share one joint set)."""
        return deepcopy(self.datasets[0].metainfo)

    def full_init(self) -> None:
        """Datasets are initialised on construction (MMEngine compatibility)."""

    def set_epoch(self, epoch: int) -> None:
        """Shift each dataset's window over its permutation by ``epoch * slots``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def locate(self, idx: int):
        """Return ``(dataset index, sample index)`` of epoch position ``idx``."""
        k = int(self._slot_dataset[idx])
        j = int(self._slot_ordinal[idx]) + self.epoch * int(self.counts[k])
        return k, int(self._perms[k][j % self.lengths[k]])

    def get_data_info(self, idx: int) -> dict:
        """Annotation of epoch position ``idx`` (before the pipeline)."""
        k, i = self.locate(idx)
        return self.datasets[k].get_data_info(i)

    def __getitem__(self, idx: int):
        k, i = self.locate(idx)
        return self.datasets[k][i]
