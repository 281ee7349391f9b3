"""Overlay error-vs-rarity curves of several models from PoseRarity result JSONs.

Example::

    python tools/plot_rarity.py work_dirs/hmr/rarity_hmr.json work_dirs/pmnet/rarity_pmnet.json \
        --labels HMR PM-Net --metric PA-MPJPE --out rarity_pa_mpjpe.png

Each JSON is what :class:`pmnet_plugin.evaluation.metrics.PoseRarityMetric` writes with ``out_dir`` set.
Curves share equal-width bins over the union of the rarity ranges. The files must score the same
test samples (same count and, where recorded, the same ids) unless ``--allow-mismatch`` is given.
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from pmnet_plugin.visualization.rarity_plot import plot_error_vs_rarity  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('results', nargs='+', help='rarity_*.json files written by PoseRarity')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--labels', nargs='+', help='one label per file (default: file names)')
    parser.add_argument('--metric', default='MPJPE', help='MPJPE | PA-MPJPE | PVE (default MPJPE)')
    parser.add_argument('--bins', type=int, default=20, help='equal-width rarity bins (default 20)')
    parser.add_argument('--tail', type=float, default=0.1, help='shaded tail fraction (0 = none)')
    parser.add_argument('--allow-mismatch', action='store_true',
                        help='plot files that do not score the same samples')
    return parser.parse_args(argv)


def _sample_key(sample: dict, index: int):
    for key in ('id', 'sample_idx', 'img_path'):
        if sample.get(key) is not None:
            return sample[key]
    return index


def load_curves(paths: Sequence[str], labels: Optional[Sequence[str]], metric: str,
                allow_mismatch: bool = False) -> List[dict]:
    """Read result JSONs into curves for :func:`plot_error_vs_rarity`.

    Raises:
        ValueError: Wrong label count, an empty file, a missing metric, or files scoring different samples.
    """
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f'{len(labels)} labels for {len(paths)} result files')
    curves, keys, kinds = [], None, set()
    for i, path in enumerate(paths):
        with open(path) as f:
            res = json.load(f)
        samples = res.get('samples') or []
        if not samples:
            raise ValueError(f'{path}: no samples')
        if metric not in samples[0]:
            raise ValueError(f'{path}: metric {metric!r} not recorded (has {res.get("metrics")})')
        these = [_sample_key(s, j) for j, s in enumerate(samples)]
        if keys is None:
            keys = these
        elif these != keys and not allow_mismatch:
            raise ValueError(f'{path}: {len(these)} samples do not match the {len(keys)} samples of '
                             f'{paths[0]} (use --allow-mismatch to plot anyway)')
        kinds.add((res.get('rarity'), res.get('rarity_label')))
        label = labels[i] if labels else osp.splitext(osp.basename(path))[0]
        to_f = lambda v: np.nan if v is None else float(v)  # noqa: E731
        curves.append(dict(label=label, rarity=np.array([to_f(s.get('rarity')) for s in samples]),
                           error=np.array([to_f(s.get(metric)) for s in samples])))
    if len(kinds) > 1:
        raise ValueError(f'result files use different rarity scores: {sorted(map(str, kinds))}')
    curves[0]['rarity_label'] = next(iter(kinds))[1] or 'rarity'
    return curves


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    curves = load_curves(args.results, args.labels, args.metric, args.allow_mismatch)
    stats = plot_error_vs_rarity(curves, args.out, metric=args.metric, num_bins=args.bins,
                                 rarity_label=curves[0]['rarity_label'], tail_fraction=args.tail or None,
                                 title=f'{args.metric} vs pose rarity')
    for c, st in zip(curves, stats):
        ok = st['counts'] > 0
        print(f'{c["label"]}: mean {args.metric} {np.nanmean(c["error"]):.2f} mm over '
              f'{int(np.isfinite(c["error"]).sum())} samples, {int(ok.sum())} non-empty bins')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
