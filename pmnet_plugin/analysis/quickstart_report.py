"""Tables of the quickstart report: metrics per model, ratios to HMR, body pose alone, image-free baselines."""
import json
from typing import Dict, List

import numpy as np

METRIC_ROWS = (('all', 'mesh/{}'), ('common clips', 'rarity/is_rare=0_{}'),
               ('rare clips', 'rarity/is_rare=1_{}'), ('not in tail 10 %', 'rarity/common_{}'),
               ('tail 10 % (rarest by mesh distance)', 'rarity/tail10_{}'), ('tail 5 %', 'rarity/tail5_{}'),
               ('balanced (100 bins)', 'rarity/balanced_{}'))
METRICS = ('MPJPE', 'PA-MPJPE', 'PVE')


def mean_std(values: List[float], fmt: str) -> str:
    """``fmt`` of the mean, with `` ± `` the sample std (ddof 1) when there is more than one value."""
    return fmt % np.mean(values) + (' ± ' + fmt % np.std(values, ddof=1) if len(values) > 1 else '')


def metrics_table(results: Dict[str, List[dict]]) -> str:
    """Markdown table: one row per subset, MPJPE / PA-MPJPE / PVE per model; mean +- std over seeds."""
    names = list(results)
    head = '| subset | ' + ' | '.join(f'{n} {m}' for m in METRICS for n in names) + ' |'
    lines = [head, '|' + '---|' * (1 + len(METRICS) * len(names))]
    for label, key in METRIC_ROWS:
        cells = []
        for m in METRICS:
            for n in names:
                values = [r[key.format(m)] for r in results[n] if key.format(m) in r]
                cells.append(mean_std(values, '%.1f') if values else 'n/a')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def comparison(results: Dict[str, List[dict]]) -> str:
    """Each model / HMR ratio per seed and their mean +- std, for the headline rows."""
    others = [n for n in results if n != 'HMR']
    seeds = len(results['HMR'])
    lines = ['| ratio to HMR | ' + ' | '.join(f'seed {i}' for i in range(seeds)) + ' | mean ± std |',
             '|---|' + '---|' * (seeds + 1)]
    for name in others:
        for label, key in (('all MPJPE', 'mesh/MPJPE'), ('tail 5 % MPJPE', 'rarity/tail5_MPJPE'),
                           ('tail 10 % MPJPE', 'rarity/tail10_MPJPE'),
                           ('rare clips MPJPE', 'rarity/is_rare=1_MPJPE'),
                           ('balanced MPJPE', 'rarity/balanced_MPJPE'), ('all PA-MPJPE', 'mesh/PA-MPJPE'),
                           ('tail 5 % PA-MPJPE', 'rarity/tail5_PA-MPJPE')):
            ratios = [m[key] / h[key] for m, h in zip(results[name], results['HMR']) if key in m and key in h]
            if ratios:
                lines.append(f'| {name} / HMR {label} | ' + ' | '.join(f'{r:.3f}' for r in ratios)
                             + f' | {mean_std(ratios, "%.3f")} |')
    return '\n'.join(lines)


def _read_diagnostics(diagnostics: Dict[int, str]) -> List[dict]:
    """The JSON of ``tools/learning_diagnostics.py`` per seed (``diagnostics``: seed -> path without .json)."""
    runs = []
    for diag in diagnostics.values():
        with open(f'{diag}.json') as f:
            runs.append(json.load(f))
    return runs


def articulation_table(diagnostics: Dict[int, str]) -> str:
    """Body-pose error with the GT orientation and shape (``learning_diagnostics.py``'s articulation), per
    subset: each model's mean +- std over the seeds and each model / HMR ratio."""
    runs = _read_diagnostics(diagnostics)
    subsets, names = list(runs[0]['subset_sizes']), list(runs[0]['models'])
    lines = ['| | ' + ' | '.join(f'{k} (n={runs[0]["subset_sizes"][k]})' for k in subsets) + ' |',
             '|---|' + '---|' * len(subsets)]
    for name in names:
        lines.append(f'| {name} | ' + ' | '.join(
            mean_std([r['models'][name]['articulation'][k] for r in runs], '%.1f') for k in subsets) + ' |')
    lines.append('| mean pose (HMR start) | ' + ' | '.join(
        f'{runs[0]["baseline_articulation"][k]:.1f}' for k in subsets) + ' |')
    for name in names[1:]:
        lines.append(f'| {name} / HMR | ' + ' | '.join(mean_std(
            [r['models'][name]['articulation'][k] / r['models']['HMR']['articulation'][k] for r in runs], '%.3f')
            for k in subsets) + ' |')
    return '\n'.join(lines)


def baseline_table(diagnostics: Dict[int, str]) -> str:
    """Each model's SMPL-24 MPJPE against the image-free baselines, and whether it beats them."""
    runs = _read_diagnostics(diagnostics)
    oracle = runs[0]['baselines']['mean pose with GT orientation and shape']
    constant = runs[0]['baselines']['constant (mean test pose)']
    lines = ['| model | SMPL-24 MPJPE | beats the constant (%.1f) | beats the mean pose given the true '
             'orientation and shape (%.1f) |' % (constant, oracle), '|---|---|---|---|']
    for name in runs[0]['models']:
        values = [r['models'][name]['MPJPE'] for r in runs]
        lines.append(f'| {name} | {mean_std(values, "%.1f")} | {sum(v < constant for v in values)} of '
                     f'{len(values)} seeds | {sum(v < oracle for v in values)} of {len(values)} seeds |')
    return '\n'.join(lines)
