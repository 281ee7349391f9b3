"""The error-vs-rarity plot is written and reports the shared bins."""
import numpy as np
import pytest

from pmnet_plugin.visualization.rarity_plot import plot_error_vs_rarity


def test_plot_two_models_share_bins(tmp_path):
    rng = np.random.default_rng(0)
    rarity = rng.uniform(0, 100, size=200)
    a = dict(label='hmr', rarity=rarity, error=50 + rarity)
    b = dict(label='pmnet', rarity=rarity, error=np.where(rarity > 90, np.nan, 50 + 0.5 * rarity))
    out = tmp_path / 'plot.png'
    stats = plot_error_vs_rarity([a, b], str(out), num_bins=10)
    assert out.stat().st_size > 5000
    assert np.allclose(stats[0]['edges'], stats[1]['edges'])
    assert stats[0]['counts'].sum() == 200 and stats[1]['counts'].sum() == (rarity <= 90).sum()
    assert stats[0]['means'][-1] > stats[0]['means'][0]


def test_plot_rejects_empty(tmp_path):
    with pytest.raises(ValueError):
        plot_error_vs_rarity([], str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match='no finite'):
        plot_error_vs_rarity([dict(label='a', rarity=[np.nan], error=[1.0])], str(tmp_path / 'x.png'))
