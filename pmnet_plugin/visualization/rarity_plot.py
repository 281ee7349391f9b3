"""Error-vs-rarity plot: binned mean error of one or more models over a shared rarity axis.

Used by :class:`PoseRarity` (one model) and ``tools/plot_rarity.py`` (several result JSONs).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from pmnet_plugin.evaluation.functional.mesh_eval import binned_stats


def plot_error_vs_rarity(curves: Sequence[Dict],
                         out_file: str,
                         metric: str = 'MPJPE',
                         num_bins: int = 20,
                         rarity_label: str = 'rarity',
                         tail_fraction: Optional[float] = 0.1,
                         title: Optional[str] = None) -> List[Dict[str, np.ndarray]]:
    """Plot binned mean error against rarity, one curve per model, with per-bin sample counts.

    All curves share the same equal-width bins (over the union of their rarity ranges), so models
    evaluated on the same test set are compared bin by bin. Empty bins are not drawn.

    Args:
        curves (Sequence[dict]): One dict per model with ``label`` (str), ``rarity`` (N,) and ``error``
            (N,) arrays; non-finite pairs are dropped.
        out_file (str): PNG path.
        metric (str): Name of the error, for the axis label. Defaults to ``'MPJPE'``.
        num_bins (int): Number of bins. Defaults to 20.
        rarity_label (str): Label of the rarity axis. Defaults to ``'rarity'``.
        tail_fraction (float, optional): Shade the rarest ``tail_fraction`` of the first curve's samples.
            Defaults to 0.1.
        title (str, optional): Figure title.

    Returns:
        list[dict]: The :func:`binned_stats` of every curve.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError('plot_error_vs_rarity: no curves given')
    clean = []
    for c in curves:
        r, e = np.asarray(c['rarity'], np.float64), np.asarray(c['error'], np.float64)
        ok = np.isfinite(r) & np.isfinite(e)
        if not ok.any():
            raise ValueError(f'plot_error_vs_rarity: curve {c["label"]!r} has no finite samples')
        clean.append((c['label'], r[ok], e[ok]))
    lo = min(r.min() for _, r, _ in clean)
    hi = max(r.max() for _, r, _ in clean)
    stats = [binned_stats(r, e, num_bins, (lo, hi)) for _, r, e in clean]

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax_cnt = ax.twinx()
    width = (stats[0]['edges'][1] - stats[0]['edges'][0]) * 0.9
    ax_cnt.bar(stats[0]['centers'], stats[0]['counts'], width=width, color='0.85', zorder=0,
               label=f'samples per bin ({clean[0][0]})')
    ax_cnt.set_ylabel('samples per bin')
    ax.set_zorder(ax_cnt.get_zorder() + 1)
    ax.patch.set_visible(False)
    for (label, r, e), st in zip(clean, stats):
        ok = st['counts'] > 0
        ax.plot(st['centers'][ok], st['means'][ok], marker='o', ms=3, lw=1.5,
                label=f'{label} (mean {e.mean():.1f})')
    if tail_fraction:
        r0 = clean[0][1]
        thr = np.quantile(r0, 1.0 - tail_fraction)
        ax.axvspan(thr, hi, color='tab:red', alpha=0.08, label=f'rarest {tail_fraction:.0%}')
    ax.set_xlabel(rarity_label)
    ax.set_ylabel(f'{metric} (mm), bin mean')
    ax.grid(alpha=0.3)
    ax.legend(loc='upper left', fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
    return stats
