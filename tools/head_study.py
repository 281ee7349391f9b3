"""Does the prototype start help? Regression heads on a frozen backbone, trained to convergence.

As in Balanced MSE's HMR experiments, the backbone both heads start from (the quickstart's 2D pose stage)
is frozen: its outputs over the renders are cached once (``--draws`` augmentation draws per training
render), and every head trains on them with its neck, the same schedule, batch and seeds: HMR, HMR + BMC,
HMR + GAI (Balanced MSE's GMM form), PM-Net, and PM-Net trained from the GT-nearest prototype. PM-Net is
also tested with the GT-nearest prototype (the selector's headroom). Writes ``OUT/report.md`` (table with
ratios to HMR and 95 % intervals paired by seed), ``OUT/curves.png`` and ``OUT/results.json``. Run
``python tools/quickstart.py`` (``make demo``) first: it renders the data and trains the 2D stage.
``--selectors`` compares PM-Net selector variants instead (``SELECTOR_CANDIDATES``).

Usage:
    python tools/head_study.py [--data data/synthetic] [--seeds 0 1 2 3 4] [--iters 1500] [--draws 4]
        [--models HMR HMR-BMC HMR-GAI PM-Net PM-Net-oracle] [--parallel 2] [--out outputs/head_study]
    python tools/head_study.py --selectors --seeds 0 1 --out outputs/selector_study
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from pmnet_plugin.analysis.head_study import (SELECTOR_CANDIDATES, STUDY_MODELS,  # noqa: E402
                                              plot_curves, results_table, study_config)
from pmnet_plugin.utils.quickstart_cache import write_json  # noqa: E402
from pmnet_plugin.utils.quickstart_steps import Steps  # noqa: E402

TABLE_COLUMNS = {
    'all MPJPE': 'rarity/all_MPJPE', 'tail 10 % MPJPE': 'rarity/tail10_MPJPE',
    'tail 5 % MPJPE': 'rarity/tail5_MPJPE', 'balanced MPJPE': 'rarity/balanced_MPJPE',
    'tail 5 % PA-MPJPE': 'rarity/tail5_PA-MPJPE', 'body pose, all': 'body_pose_all',
    'body pose, tail 5 %': 'body_pose_tail5'}
SELECTOR_COLUMNS = {
    'top-1, all': 'top1_all', 'top-5, all': 'top5_all', 'top-1, tail 5 %': 'top1_tail5',
    'top-5, tail 5 %': 'top5_tail5', 'body pose, all': 'body_pose_all', 'body pose, tail 5 %': 'body_pose_tail5',
    'oracle at test: body pose, tail 5 %': 'oracle_body_pose_tail5'}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='data/synthetic', help='the quickstart dataset folder')
    p.add_argument('--out', help='report folder (default outputs/head_study or outputs/selector_study)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    p.add_argument('--iters', type=int, default=1500, help='training iterations of each head (batch 32)')
    p.add_argument('--draws', type=int, default=4, help='augmentation draws cached per training render')
    p.add_argument('--curve-points', type=int, default=8, help='evaluations along each learning curve')
    p.add_argument('--models', nargs='+', choices=sorted(STUDY_MODELS), default=list(STUDY_MODELS))
    p.add_argument('--selectors', action='store_true', help='compare PM-Net selector variants')
    p.add_argument('--parallel', type=int, default=2, help='trainings side by side')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    for name, value, low in (('--iters', args.iters, 100), ('--draws', args.draws, 1),
                             ('--parallel', args.parallel, 1), ('--curve-points', args.curve_points, 2)):
        if value < low:
            p.error(f'{name} must be >= {low}, got {value}')
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds: each seed once, got {args.seeds}')
    if not args.selectors and args.models[0] != 'HMR':
        p.error('--models: the baseline HMR comes first (the ratios are to it)')
    args.out = args.out or ('outputs/selector_study' if args.selectors else 'outputs/head_study')
    return args


# ---------------------------------------------------------------------------------------------- one run
def run_worker(spec_file: str) -> None:
    """Trains one head on the cached features, tests it (and, for PM-Net, with the oracle prototype)."""
    from mmengine.runner import Runner

    import pmnet_plugin  # noqa: F401
    from pmnet_plugin.engine.hooks import HeadCurveHook
    with open(spec_file) as f:
        spec = json.load(f)
    cfg = study_config(**spec['config'], root=ROOT)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    train_time = time.time() - start
    hook = next(h for h in runner.hooks if isinstance(h, HeadCurveHook))
    result = dict(name=spec['name'], seed=spec['config']['seed'], curves=hook.records, train_time=train_time,
                  test={**runner.test(), **hook.records[-1]})
    if hasattr(runner.model.head, 'assignment'):
        runner.model.test_cfg['oracle_prototype'] = True
        result['oracle_test'] = {**runner.test(), **hook.evaluate(runner.model, oracle=True)}
        result['test'].update({f'oracle_{k}': v for k, v in result['oracle_test'].items()
                               if not k.startswith('rarity/')})
    write_json(osp.join(cfg.work_dir, 'result.json'), result)


# ---------------------------------------------------------------------------------------------- the study
def cache_root(data: str) -> str:
    """The study's own folder for the caches of dataset ``data`` (the quickstart's folder stays its own)."""
    return osp.join(ROOT, 'data', 'head_study', osp.basename(osp.normpath(data)))


def prepare(args: argparse.Namespace) -> Dict[str, str]:
    """Feature caches of the 2D stage's backbone (and the label GMM of GAI). Exits 2 without the data."""
    from mmengine.config import Config

    import pmnet_plugin  # noqa: F401
    from pmnet_plugin.analysis.feature_cache import build_feature_cache
    from pmnet_plugin.datasets import CachedFeatureDataset
    data = args.data
    stage = osp.join(ROOT, data, 'pose2d_effnet_400it_bs32', 'last_checkpoint')
    files = ('train.npz', 'test.npz', 'prototypes_k32.npz', 'smpl_mean_params.npz')
    needed = [osp.join(ROOT, data, f) for f in files] + [stage]
    missing = [f for f in needed if not osp.isfile(f)]
    if missing:
        sys.exit(f'head_study: {missing[0]} is missing; run `python tools/quickstart.py --data {data}` '
                 '(make demo) first: it renders the data, builds the prototypes and trains the 2D stage')
    pose2d = open(stage).read().strip()
    cfg = Config.fromfile(osp.join(ROOT, STUDY_MODELS['HMR'][0]))
    for split in ('train', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = osp.join(ROOT, data)
    cfg.model.head.update(mean_params=osp.join(ROOT, data, 'smpl_mean_params.npz'), rarity_file=None)
    caches = {}
    for split, draws in (('train', args.draws), ('test', 1)):
        caches[split] = osp.join(cache_root(data), split)
        build_feature_cache(cfg, split, caches[split], checkpoint=pose2d, draws=draws, seed=0,
                            log=lambda s: print(f'[head study] {s}', flush=True))
    caches['gmm'] = None
    if 'HMR-GAI' in args.models and not args.selectors:
        import torch

        from pmnet_plugin.analysis.label_gmm import fit_label_gmm
        from pmnet_plugin.models.losses.mesh_losses import root_relative
        train = CachedFeatureDataset(caches['train'])
        key = train.meta['fingerprint']['key'][:12]
        caches['gmm'] = osp.join(caches['train'], f'label_gmm_{key}.npz')
        if not osp.isfile(caches['gmm']):  # the loss's targets: 3D joints relative to the labelled root
            joints = torch.from_numpy(train.labels['label/keypoints_3d'].reshape(len(train), -1, 3)).double()
            root = torch.from_numpy(train.labels['label/keypoints_3d_root'].reshape(len(train), -1))
            fit_label_gmm(root_relative(joints, root).reshape(len(train), -1).numpy(), caches['gmm'])
            print(f'[head study] label GMM of GAI: {caches["gmm"]}', flush=True)
    return dict(caches, pose2d=pose2d)


def study_prototypes(data: str, k: int, tilt_weight: float) -> str:
    """A prototype file of the training poses with ``k`` prototypes and ``tilt_weight`` (built once)."""
    out = osp.join(cache_root(data), f'prototypes_k{k}_tilt{tilt_weight:g}.npz')
    if not osp.isfile(out):
        sys.path.insert(0, osp.join(ROOT, 'tools'))
        import build_prototypes
        build_prototypes.main(['--poses', osp.join(ROOT, data, 'train.npz'), '--k', str(k), '--balanced', '--seed',
                               '0', '--out', out, '--tilt-weight', str(tilt_weight), '--mean-params',
                               osp.join(ROOT, data, 'smpl_mean_params.npz'), '--body-model',
                               osp.join(ROOT, 'data/body_models/smpl/SMPL_NEUTRAL.pkl')])
    return out


def run_jobs(args: argparse.Namespace, jobs: List[dict]) -> None:
    """Runs the worker of each job without a ``result.json``, ``--parallel`` at a time (quickstart's
    :class:`Steps`: each gets its share of the cores, a failure lets the others finish, a signal ends them)."""
    steps = Steps(total=len(jobs), root=ROOT, tool='head study')
    todo = []
    for job in jobs:
        if osp.isfile(osp.join(job['work_dir'], 'result.json')):
            steps.skip(job['label'], 'trained before')
            continue
        os.makedirs(job['work_dir'], exist_ok=True)
        spec = osp.join(job['work_dir'], 'spec.json')
        write_json(spec, job['spec'])
        todo.append((job['label'], [sys.executable, __file__, '--worker', spec],
                     osp.join(job['work_dir'], 'run.log')))
    steps.run_many('trainings', todo, args.parallel)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.worker)
    t0 = time.time()
    prep = prepare(args)
    caches = dict(train=prep['train'], test=prep['test'])
    interval = max(1, args.iters // args.curve_points)
    variants = ({name: ('PM-Net', dict(head)) for name, head in SELECTOR_CANDIDATES.items()} if args.selectors
                else {name: (name, {}) for name in args.models})
    for _, head in variants.values():
        if 'prototypes' in head:
            spec = head.pop('prototypes')
            head.update(prototype_file=study_prototypes(args.data, **spec), num_prototypes=spec['k'],
                        tilt_weight=spec['tilt_weight'])
    jobs = []
    for seed in args.seeds:
        for label, (model, head) in variants.items():
            tag = label.replace(' ', '').replace(',', '_').replace('=', '').replace('%', '')
            wd = osp.join(ROOT, args.out, 'runs', f'{tag}_seed{seed}')
            jobs.append(dict(label=f'{label} seed {seed}', name=label, seed=seed, work_dir=wd, spec=dict(
                name=label, config=dict(name=model, data=args.data, caches=caches, pose2d=prep['pose2d'],
                                        iters=args.iters, seed=seed, work_dir=wd, curve_interval=interval,
                                        head=head, gmm_file=prep['gmm']))))
    run_jobs(args, jobs)
    results: Dict[str, List[dict]] = {}
    for job in jobs:
        with open(osp.join(job['work_dir'], 'result.json')) as f:
            results.setdefault(job['name'], []).append(json.load(f))
    write_report(args, results, time.time() - t0)


def write_report(args: argparse.Namespace, results: Dict[str, List[dict]], wall: float) -> None:
    """``report.md``, ``curves.png`` and ``results.json`` in ``args.out``."""
    out = osp.join(ROOT, args.out)
    os.makedirs(out, exist_ok=True)
    seeds = ', '.join(map(str, args.seeds))
    lines = [f'# {"Selector study" if args.selectors else "Head study"}: frozen 2D-stage backbone, '
             f'{args.iters} iterations x 32, seeds {seeds}', '',
             f'Command: `python tools/head_study.py {" ".join(sys.argv[1:])}`; wall time {wall:.0f} s on '
             f'{os.cpu_count()} CPU cores. Backbone outputs cached over {args.data} ({args.draws} augmentation '
             'draws per training render); every head trains its neck and head on them. MPJPE columns: LSP-14 '
             'joints (PoseRarity, 3DPW protocol); body pose: the predicted body pose posed with the GT '
             'orientation and shape, SMPL-24 joints. Cells: mean ± std over seeds, then the ratio to the '
             'first row with its 95 % interval, paired by seed.', '']
    if args.selectors:
        rows = {name: [r['test'] for r in runs] for name, runs in results.items()}
        lines.append(results_table(rows, SELECTOR_COLUMNS, baseline=next(iter(rows))))
        base = rows[next(iter(rows))]
        mean = {n: sum(r['body_pose_tail5'] for r in v) / len(v) for n, v in rows.items()}
        first = next(iter(rows))
        gap = mean[first] - sum(r['oracle_body_pose_tail5'] for r in base) / len(base)
        lines += ['', f'Share of the first row\'s oracle headroom ({gap:.1f} mm of tail-5 % body pose) captured: '
                  + ', '.join(f'{n}: {(mean[first] - m) / gap:+.2f}' for n, m in mean.items())]
    else:
        rows = {name: [r['test'] for r in runs] for name, runs in results.items() if name != 'PM-Net-oracle'}
        if 'PM-Net' in results:
            rows['PM-Net, oracle prototype at test'] = [r['oracle_test'] for r in results['PM-Net']]
        if 'PM-Net-oracle' in results:
            rows['PM-Net, oracle prototype in training and test'] = [
                r['oracle_test'] for r in results['PM-Net-oracle']]
        names = {'PM-Net': 'PM-Net (default: joint-space soft selection)',
                 'PM-Net-rotation': 'PM-Net, rotation-space hard selection'}
        lines.append(results_table({names.get(n, n): v for n, v in rows.items()}, TABLE_COLUMNS))
    lines += ['', '![learning curves](curves.png)', '', '| run | training s |', '|---|---|']
    lines += [f'| {n} seed {r["seed"]} | {r["train_time"]:.0f} |' for n, runs in results.items() for r in runs]
    curves = {n: [r['curves'] for r in runs] for n, runs in results.items()}
    plot_curves(curves, {'SMPL-24 MPJPE, all (mm)': 'mpjpe_all', 'SMPL-24 MPJPE, tail 5 % (mm)': 'mpjpe_tail5',
                         'body pose, tail 5 % (mm)': 'body_pose_tail5', 'selector top-1, all': 'top1_all',
                         'selector top-5, all': 'top5_all'}, osp.join(out, 'curves.png'))
    with open(osp.join(out, 'report.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(results, f)
    print('\n'.join(lines))
    print(f'\nreport: {osp.join(args.out, "report.md")} (wall {wall:.0f} s)')


if __name__ == '__main__':
    main()
