"""MixedSMPLDataset: exact ratios, determinism by seed, epochs, errors."""
import numpy as np
import pytest
from torch.utils.data import Dataset

from pmnet_plugin.datasets import MixedSMPLDataset


class _Range(Dataset):
    def __init__(self, n, tag):
        self.n, self.tag = n, tag
        self.metainfo = dict(dataset_name=tag)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return (self.tag, i)

    def get_data_info(self, i):
        return dict(tag=self.tag, i=i)


SPIN_RATIOS = [.35, .15, .1, .1, .1, .2]


def _spin_mix(seed=0, num_samples=1000):
    sizes = [300, 80, 20, 100, 50, 500]
    return MixedSMPLDataset([_Range(n, f'd{k}') for k, n in enumerate(sizes)], SPIN_RATIOS,
                            num_samples=num_samples, seed=seed)


def test_ratios_match_targets():
    mix = _spin_mix()
    tags = [mix[i][0] for i in range(len(mix))]
    freq = np.array([tags.count(f'd{k}') for k in range(6)]) / len(mix)
    np.testing.assert_allclose(freq, SPIN_RATIOS, atol=1e-3)
    # a random window of the epoch (what a shuffled sampler sees) is close too
    window = tags[100:400]
    assert abs(window.count('d0') / 300 - .35) < .1
    # small datasets are cycled through completely, large ones without repeats
    d2 = [mix[i][1] for i in range(len(mix)) if mix[i][0] == 'd2']
    assert sorted(set(d2)) == list(range(20)) and len(d2) == 100
    d5 = [mix[i][1] for i in range(len(mix)) if mix[i][0] == 'd5']
    assert len(set(d5)) == len(d5) == 200


def test_deterministic_by_seed_and_epoch():
    a, b, c = _spin_mix(0), _spin_mix(0), _spin_mix(1)
    seq = [a[i] for i in range(200)]
    assert seq == [b[i] for i in range(200)]
    assert seq != [c[i] for i in range(200)]
    a.set_epoch(1)
    d5_e1 = {a[i][1] for i in range(len(a)) if a[i][0] == 'd5'}
    a.set_epoch(0)
    d5_e0 = {a[i][1] for i in range(len(a)) if a[i][0] == 'd5'}
    assert not d5_e0 & d5_e1  # epoch 1 sees the rows epoch 0 skipped
    assert a.get_data_info(5)['tag'] == a[5][0] and a.metainfo['dataset_name'] == 'd0'


def test_builds_from_configs(humandata_dir):
    cfg = dict(type='SMPLImageDataset', ann_file='ann.npz', data_root=humandata_dir)
    mix = MixedSMPLDataset([cfg, dict(cfg, dataset_tag='other')], [.5, .5], num_samples=10,
                           pipeline=[dict(type='LoadImage')])
    out = mix[0]
    assert out['img'].ndim == 3 and out['dataset_tag'] in ('ann', 'other')


def test_errors():
    with pytest.raises(ValueError, match='2 datasets but 1 ratios'):
        MixedSMPLDataset([_Range(3, 'a'), _Range(3, 'b')], [1.])
    with pytest.raises(ValueError, match='empty dataset'):
        MixedSMPLDataset([_Range(0, 'a'), _Range(3, 'b')], [.5, .5])
