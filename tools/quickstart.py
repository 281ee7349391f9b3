"""The offline quickstart: PM-Net vs the HMR baseline, end to end, with no downloads.

Builds the body model, pose library, renders and prototypes, trains a 2D stage and the mesh models with
the same budget, tests them and writes ``OUT/report.md``; each cached step is skipped when its output loads
and was made from the same inputs, unless ``--fresh``. It writes and deletes only in the ``--data`` and
``--out`` folders it made (a marker file), one run at a time in each; SIGINT/SIGTERM end its children.
Steps and presets (``demo``, ``full``, ``gpu``): ``docs/quickstart.md``; figures: ``docs/results.md``; what
it refuses and why: ``docs/reliability.md``.

Usage:
    python tools/quickstart.py [--preset demo|full|gpu] [--iters N] [--num-train N] [--seeds 0 1 2]
        [--models HMR PM-Net] [--parallel N] [--workers N] [--fresh]
"""
import argparse
import json
import os
import os.path as osp
import shlex
import shutil
import signal
import sys
import time
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # pmnet_plugin without installing it
PY = sys.executable

from pmnet_plugin.analysis.quickstart_report import articulation_table  # noqa: E402
from pmnet_plugin.analysis.quickstart_report import baseline_table, comparison, metrics_table
from pmnet_plugin.utils.quickstart_cache import (DATA_OWN, OUT_OWN, FolderClaimError,  # noqa: E402
                                                 claim_folder, file_digest, pose_library_problem,
                                                 remove_own, renders_problem, stage_problem,
                                                 write_json)
from pmnet_plugin.utils.quickstart_steps import Steps, end_children  # noqa: E402,F401
from pmnet_plugin.utils.workdir_lock import FolderBusyError, FolderLock  # noqa: E402

POSE2D_CONFIG = 'configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py'
MODEL_CONFIGS = {'HMR': 'configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py',
                 'HMR-BMC': 'configs/hmr-bmc_effnet-lite0_1xb32-400it_synthetic-96x96.py',
                 'PM-Net': 'configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py'}
PRESETS = dict(
    demo=dict(out='outputs/quickstart', data='data/synthetic', num_train=5000, num_test=500, iters=400,
              batch_size=32, seeds=[0], models=['HMR', 'PM-Net'], workers=0, parallel=1, amp=None, pose2d_iters=400),
    full=dict(out='outputs/quickstart_full', data='data/synthetic_full', num_train=10000, num_test=1000,
              iters=900, batch_size=32, seeds=[0, 1, 2], models=['HMR', 'HMR-BMC', 'PM-Net'], workers=0,
              parallel=1, amp=None, pose2d_iters=900),
    gpu=dict(out='outputs/quickstart_gpu', data='data/synthetic_full', num_train=10000, num_test=1000,
             iters=1200, batch_size=256, seeds=[0, 1, 2], models=['HMR', 'HMR-BMC', 'PM-Net'], workers=2,
             parallel=9, amp='bfloat16', pose2d_iters=1200))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', choices=sorted(PRESETS), default='demo')
    p.add_argument('--out', help='report folder')
    p.add_argument('--data', help='dataset folder')
    p.add_argument('--num-train', type=int, help='rendered training images')
    p.add_argument('--num-test', type=int, help='rendered test images')
    p.add_argument('--rare-fraction', type=float, default=0.05, help='rare share of the training split')
    p.add_argument('--img-size', type=int, default=128, help='rendered image side, px')
    p.add_argument('--iters', type=int, help='training iterations per model (equal budget)')
    p.add_argument('--batch-size', type=int)
    p.add_argument('--k', type=int, default=32, help='number of prototypes')
    p.add_argument('--seeds', type=int, nargs='+', help='training seeds (data always uses seed 0)')
    p.add_argument('--models', nargs='+', choices=sorted(MODEL_CONFIGS), help='models to compare (HMR first)')
    p.add_argument('--workers', type=int, help='loader worker processes per training')
    p.add_argument('--parallel', type=int, help='trainings (and tests) run side by side')
    p.add_argument('--amp', choices=['bfloat16', 'float16', 'none'], help='mixed precision of the trainings')
    p.add_argument('--pose2d-iters', type=int,
                   help='iterations of the 2D pose stage both heads start from (0: ImageNet start)')
    p.add_argument('--fresh', action='store_true', help='regenerate data and retrain')
    args = p.parse_args()
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.amp = None if args.amp == 'none' else args.amp
    if args.models[0] != 'HMR':
        p.error('--models: the baseline HMR comes first (the ratios are to it)')
    check_ranges(p, args)
    return args


def check_ranges(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuses values that would hang or fail deep inside a step (``p.error``: exit 2, nothing done)."""
    for name, low in (('parallel', 1), ('iters', 1), ('num_train', 1), ('num_test', 1), ('batch_size', 1),
                      ('k', 1), ('workers', 0), ('pose2d_iters', 0), ('img_size', 32)):
        if getattr(args, name) < low:
            p.error(f'--{name.replace("_", "-")} must be at least {low}, got {getattr(args, name)}')
    if not 0 <= args.rare_fraction <= 1:
        p.error(f'--rare-fraction must be within [0, 1], got {args.rare_fraction}')
    if args.k > args.num_train:
        p.error(f'--k {args.k}: more prototypes than training images ({args.num_train})')
    dup = sorted({s for s in args.seeds if args.seeds.count(s) > 1})
    if dup:
        p.error(f'--seeds: {", ".join(map(str, dup))} given twice; each seed trains once into its own work dir '
                '(a repeat would share it and be reported as two seeds)')
    if len(set(args.models)) < len(args.models):
        p.error('--models: a model is given twice')


def tag_of(name: str) -> str:
    """File-name tag of a model name ('PM-Net' -> 'pmnet')."""
    return name.lower().replace('-', '')


def latest_checkpoint(work_dir: str) -> str:
    """Path of the last checkpoint MMEngine wrote in ``work_dir``."""
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def scalars_file(work_dir: str) -> str:
    """The newest ``<timestamp>/vis_data/scalars.json`` under ``work_dir`` (the training run's: a test run
    writes no scalars)."""
    runs = sorted(d for d in os.listdir(osp.join(ROOT, work_dir))
                  if osp.isfile(osp.join(ROOT, work_dir, d, 'vis_data', 'scalars.json')))
    return osp.join(work_dir, runs[-1] if runs else 'none', 'vis_data', 'scalars.json')


def config_digest(cfg: str) -> str:
    """SHA-1 (16 hex digits) of a config's merged text: an edit of it or of its bases changes it."""
    import hashlib

    from mmengine.config import Config
    text = Config.fromfile(osp.join(ROOT, cfg), import_custom_modules=False).pretty_text
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_pose2d_stage(args: argparse.Namespace, steps: Steps, data_key: dict) -> str:
    """Trains (once per dataset, config, budget and precision) and evaluates the 2D keypoint model both heads
    start from; a stage trained from other inputs or whose checkpoint does not load is trained again.

    Returns:
        str: Its checkpoint.
    """
    data, out = args.data, args.out
    wd = f'{data}/pose2d_effnet_{args.pose2d_iters}it_bs{args.batch_size}'
    data_opts = [f'train_dataloader.dataset.data_root={data}', f'test_dataloader.dataset.data_root={data}']
    name = f'2D pose stage, shared by every model and seed ({args.pose2d_iters} iters x {args.batch_size})'
    key = dict(config=config_digest(POSE2D_CONFIG), iters=args.pose2d_iters, batch_size=args.batch_size,
               amp=args.amp, data=data_key)
    problem = stage_problem(osp.join(ROOT, wd), key, ROOT) if osp.isdir(osp.join(ROOT, wd)) else 'none yet'
    if problem is None:
        steps.skip(name, f'trained from the same inputs ({wd})')
    else:
        if problem != 'none yet':
            print(f'{wd}: {problem}: training it again', flush=True)
            shutil.rmtree(osp.join(ROOT, wd))
        steps.run(name, train_command(args, POSE2D_CONFIG, wd, 0, data_opts, args.pose2d_iters),
                  log=f'{out}/logs/train_pose2d.log')
        write_json(osp.join(ROOT, wd, 'quickstart_key.json'), key)
    ckpt = latest_checkpoint(wd)
    steps.run('2D pose stage: PCK / EPE',
              [PY, 'tools/test.py', POSE2D_CONFIG, ckpt, '--work-dir', f'{out}/pose2d', '--out',
               f'{out}/pose2d/metrics.json', '--cfg-options', *data_opts], log=f'{out}/logs/test_pose2d.log')
    steps.run('2D pose stage: heatmap joints\' error, common vs rare',
              [PY, 'tools/heatmap_joint_error.py', POSE2D_CONFIG, ckpt, '--data-root', data,
               '--out', f'{out}/pose2d/heatmap_joint_error.json'], log=f'{out}/logs/heatmap_error_pose2d.log')
    return ckpt


def pose2d_section(out: str) -> List[str]:
    """Report lines of the 2D stage (empty without one)."""
    metrics_file = osp.join(ROOT, out, 'pose2d', 'metrics.json')
    if not osp.isfile(metrics_file):
        return []
    metrics = json.load(open(metrics_file))
    err = json.load(open(osp.join(ROOT, out, 'pose2d', 'heatmap_joint_error.json')))['read_by_neck']
    cells = ' | '.join(f'{v:.3f}' if isinstance(v, float) else str(v) for v in metrics.values())
    return ['## The 2D pose stage both heads start from', '',
            f'`{POSE2D_CONFIG}` (MMPose\'s TopdownPoseEstimator + HeatmapHead), trained once on this dataset; '
            'every model and seed starts from its checkpoint (backbone and heatmap layers, `model.init_cfg`).', '',
            '| ' + ' | '.join(metrics) + ' | heatmap joints\' error (crop units): all / common / rare |',
            '|' + '---|' * (len(metrics) + 1),
            f'| {cells} | {err["all"]:.3f} / {err["common"]:.3f} / {err["rare"]:.3f} |', '']


def train_command(args: argparse.Namespace, cfg: str, wd: str, seed: int, opts: List[str],
                  iters: int = None) -> List[str]:
    """``tools/train.py`` for one model and seed with the run's budget (``iters``: ``args.iters``), loader and
    precision."""
    iters = iters or args.iters
    loader = [f'train_dataloader.num_workers={args.workers}',
              f'train_dataloader.persistent_workers={args.workers > 0}',
              f'train_dataloader.pin_memory={args.workers > 0}']
    return ([PY, 'tools/train.py', cfg, '--work-dir', wd, '--no-validate']
            + (['--auto-scale-lr'] if args.batch_size != 32 else [])
            + (['--amp', '--amp-dtype', args.amp] if args.amp else [])
            + ['--cfg-options', f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
               f'param_scheduler.1.T_max={iters}', f'param_scheduler.1.end={iters}',
               f'default_hooks.checkpoint.interval={iters}', f'train_dataloader.batch_size={args.batch_size}',
               f'randomness.seed={seed}', *loader, *opts])


def prototypes_load(path: str) -> bool:
    """Whether ``path`` is a prototype file that loads (one in an older layout is rebuilt)."""
    from pmnet_plugin.prototypes import load_prototypes
    if not osp.exists(osp.join(ROOT, path)):
        return False
    try:
        load_prototypes(osp.join(ROOT, path))
    except (KeyError, ValueError, OSError) as err:
        print(f'{path}: {err}: rebuilding it')
        return False
    return True


def _exit_on_signal(signum, frame) -> None:
    """SIGTERM/SIGHUP end the quickstart like Ctrl-C: its running children are ended first (``run_many``)."""
    raise SystemExit(f'quickstart: stopped by signal {signal.Signals(signum).name}; its running steps were '
                     'ended. Rerun the same command to continue from the outputs kept.')


def claim_folders(args: argparse.Namespace) -> List[FolderLock]:
    """Makes ``--out`` and ``--data`` the quickstart's (refusing others' folders) and locks both."""
    locks, folders = [], (('--out', args.out, OUT_OWN, ('report.md', 'logs')),
                          ('--data', args.data, DATA_OWN, ('quickstart_args.json', )))
    for option, folder, own, record in folders:  # both checked before either is created
        claim_folder(osp.join(ROOT, folder), option, own, record, create=False)
    try:
        for option, folder, own, record in folders:
            path = osp.join(ROOT, folder)
            if claim_folder(path, option, own, record) == 'adopted':
                print(f'{folder}: made by an earlier quickstart, marked as its own', flush=True)
            locks.append(FolderLock(path, f'{option} folder', f'Wait for it, or choose another {option}.').acquire())
    except FolderBusyError:
        for lock in locks:
            lock.release()
        raise
    if args.fresh:
        for option, folder, own in (('--out', args.out, OUT_OWN), ('--data', args.data, DATA_OWN)):
            removed = remove_own(osp.join(ROOT, folder), own)
            print(f'--fresh: removed the quickstart\'s own {", ".join(removed) or "(nothing)"} from {folder}; '
                  'other files there are kept', flush=True)
    return locks


def main() -> None:
    args = parse_args()
    os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    try:
        locks = claim_folders(args)
    except (FolderClaimError, FolderBusyError) as err:
        sys.exit(f'quickstart: error: {err}')
    try:
        run(args)
    finally:
        for lock in locks:
            lock.release()


def prepare_data(args: argparse.Namespace, steps: Steps) -> dict:
    """Pose library and renders, each reused only when it loads and was made from the same inputs.

    Returns:
        dict: The renders' key (data options, body model and pose library digests).
    """
    out, data = args.out, args.data
    library = 'data/mocap/pose_library.npz'
    problem = pose_library_problem(osp.join(ROOT, library)) if osp.exists(osp.join(ROOT, library)) else None
    if problem or args.fresh:
        if problem:
            print(f'{problem}: building it again', flush=True)
        if osp.exists(osp.join(ROOT, library)):
            os.remove(osp.join(ROOT, library))
    steps.run('pose library from pybullet mocap', [PY, 'tools/prepare_mocap.py', '--out', library],
              skip_if=library)
    key = dict(num=args.num_train, num_test=args.num_test, rare=args.rare_fraction, img_size=args.img_size,
               texture='parts', body_model=file_digest(osp.join(ROOT, 'data/body_models/smpl/SMPL_NEUTRAL.pkl')),
               pose_library=file_digest(osp.join(ROOT, library)))
    name = 'render the long-tail dataset'
    problem = renders_problem(osp.join(ROOT, data), key)
    if problem is None:
        steps.skip(name, f'{data} holds these renders')
        return key
    removed = remove_own(osp.join(ROOT, data), DATA_OWN)
    if removed:
        print(f'{problem}: rendering again (removed {", ".join(removed)})', flush=True)
    steps.run(name, [PY, 'tools/make_synthetic_dataset.py', '--out', data, '--num', str(args.num_train),
                     '--num-test', str(args.num_test), '--rare-fraction', str(args.rare_fraction), '--seed', '0',
                     '--img-size', str(args.img_size), '--texture', 'parts', '--split', 'both'],
              log=f'{out}/logs/dataset.log')
    write_json(osp.join(ROOT, data, 'quickstart_args.json'), key)
    problem = renders_problem(osp.join(ROOT, data), key)
    if problem:
        sys.exit(f'quickstart: error: the renders just made do not check: {problem}')
    return key


def model_options(args: argparse.Namespace, pose2d: str = None) -> Dict[str, List[str]]:
    """``--cfg-options`` of each model's training and test: this run's data, and the mean params, rarity
    quantiles, prototypes and K built from it (never the configs' defaults, made from the demo data)."""
    data = args.data
    proto, mean = f'{data}/prototypes_k{args.k}.npz', f'{data}/smpl_mean_params.npz'
    opts = [f'train_dataloader.dataset.data_root={data}', f'test_dataloader.dataset.data_root={data}',
            f'model.head.mean_params={mean}', f'model.head.rarity_file={proto}']
    opts += [f'model.init_cfg.checkpoint={pose2d}'] if pose2d else []
    return {name: opts + ([f'model.head.prototype_file={proto}', f'model.head.num_prototypes={args.k}']
                          if name == 'PM-Net' else []) for name in args.models}


def run(args: argparse.Namespace) -> None:
    """The steps, from the body model to the report."""
    out, data = args.out, args.data
    os.makedirs(osp.join(ROOT, out, 'logs'), exist_ok=True)
    proto, mean = f'{data}/prototypes_k{args.k}.npz', f'{data}/smpl_mean_params.npz'
    models = [(n, MODEL_CONFIGS[n]) for n in args.models]
    steps = Steps(root=ROOT, total=6 + 3 * (args.pose2d_iters > 0) + len(args.seeds) * (2 * len(models) + 1) + 2)
    steps.run('body model (procedural, SMPL file format)',
              [PY, 'tools/make_synthetic_smpl.py', '--out', 'data/body_models', '--seed', '0'],
              skip_if='data/body_models/J_regressor_extra.npy')
    data_key = prepare_data(args, steps)
    steps.run('contact sheet of test renders', [PY, 'tools/contact_sheet.py', f'{data}/test.npz',
              '--num', '16', '--out', f'{out}/test_renders.png'])
    steps.run(f'prototypes (balanced k-means, K={args.k})',
              [PY, 'tools/build_prototypes.py', '--poses', f'{data}/train.npz', '--k', str(args.k),
               '--balanced', '--seed', '0', '--out', proto,
               '--mean-params', 'data/body_models/smpl_mean_params.npz', '--write-mean-params', mean,
               '--body-model', 'data/body_models/smpl/SMPL_NEUTRAL.pkl'],
              skip_if=proto if osp.exists(osp.join(ROOT, mean)) and prototypes_load(proto) else None,
              log=f'{out}/logs/prototypes.log')
    steps.run('starting-point error: mean pose vs nearest prototype',
              [PY, 'tools/prototype_coverage.py', f'{data}/test.npz', proto, '--mean-params', mean,
               '--out', f'{out}/starting_points.md'])
    pose2d = run_pose2d_stage(args, steps, data_key) if args.pose2d_iters > 0 else None
    runs = [(seed, name, cfg, f'{out}/work_dirs/{tag_of(name)}_seed{seed}') for seed in args.seeds
            for name, cfg in models]
    opts_of = model_options(args, pose2d)
    trainings = [(f'train {name} seed {seed} ({args.iters} iters x {args.batch_size})',
                  train_command(args, cfg, wd, seed, opts_of[name]), f'{out}/logs/train_{tag_of(name)}_seed{seed}.log')
                 for seed, name, cfg, wd in runs]
    steps.run_many('trainings', trainings, args.parallel)
    tests = [(f'test {name} seed {seed}',
              [PY, 'tools/test.py', cfg, latest_checkpoint(wd), '--work-dir', wd, '--out', f'{wd}/metrics.json',
               '--dump', f'{wd}/preds.npz', '--cfg-options', f'test_evaluator.1.model_name={tag_of(name)}',
               f'test_evaluator.1.mean_params={mean}', *opts_of[name]],
              f'{out}/logs/test_{tag_of(name)}_seed{seed}.log')
             for seed, name, cfg, wd in runs]
    steps.run_many('tests', tests, args.parallel)
    results: Dict[str, List[dict]] = {n: [] for n, _ in models}
    for seed, name, cfg, wd in runs:
        with open(osp.join(ROOT, wd, 'metrics.json')) as f:
            results[name].append(json.load(f))
    diagnostics = {seed: f'{out}/diagnostics_seed{seed}' for seed in args.seeds}
    diag_jobs = [(f'learning diagnostics seed {seed}',
                  [PY, 'tools/learning_diagnostics.py', f'{data}/test.npz', '--preds',
                   *[f'{n}={wd}/preds.npz' for s_, n, _, wd in runs if s_ == seed],
                   '--prototypes', proto, '--mean-params', mean, '--curves',
                   *[f'{n}={scalars_file(wd)}' for s_, n, _, wd in runs if s_ == seed],
                   '--out-json', f'{diag}.json', '--out-md', f'{diag}.md', '--out-plot',
                   f'{out}/training_curves_seed{seed}.png'], f'{out}/logs/diagnostics_seed{seed}.log')
                 for seed, diag in diagnostics.items()]
    steps.run_many('learning diagnostics', diag_jobs, min(args.parallel, os.cpu_count() or 1))
    seed = args.seeds[0]
    wds = {n: f'{out}/work_dirs/{tag_of(n)}_seed{seed}' for n, _ in models}
    steps.run('error-vs-rarity plot',
              [PY, 'tools/plot_rarity.py', *[f'{wds[n]}/rarity_{tag_of(n)}.json' for n, _ in models],
               '--labels', *[n for n, _ in models], '--out', f'{out}/error_vs_rarity.png'])
    steps.run('overlays on rare and common test samples',
              [PY, 'tools/overlay_sheet.py', f'{data}/test.npz', '--out', f'{out}/overlays.png',
               '--labels', *[n for n, _ in models], '--models']
              # the config each run saved in its work dir: its data, prototypes and K, not the defaults
              + [f'{wds[n]}/{osp.basename(cfg)}={latest_checkpoint(wds[n])}' for n, cfg in models],
              log=f'{out}/logs/overlays.log')
    write_report(args, results, diagnostics, steps)
    for name, _ in models:  # the first seed's checkpoints at a fixed path (the README's demo commands use them)
        shutil.copyfile(osp.join(ROOT, latest_checkpoint(wds[name])), osp.join(ROOT, out, f'{tag_of(name)}.pth'))


def command_line() -> str:
    """This run's command as typed, options included."""
    return ' '.join(['python tools/quickstart.py'] + [shlex.quote(a) for a in sys.argv[1:]])


def gpu_name() -> str:
    """The GPU the trainings could use (``torch.cuda``), or ``'no GPU'``."""
    import torch
    return f'GPU {torch.cuda.get_device_name(0)}' if torch.cuda.is_available() else 'no GPU'


def write_report(args: argparse.Namespace, results: Dict[str, List[dict]], diagnostics: Dict[int, str],
                 steps: Steps) -> None:
    """Writes ``report.md`` with the metric tables, diagnostics, figures and step times."""
    diag_files = {seed: osp.join(ROOT, diag) for seed, diag in diagnostics.items()}
    out, seed0 = args.out, args.seeds[0]
    start = f', started from the 2D pose stage ({args.pose2d_iters} iterations)' if args.pose2d_iters else ''
    seeds = ', '.join(map(str, args.seeds))
    lines = [
        f'# {" vs ".join(results)} — offline quickstart report (`--preset {args.preset}`)', '',
        f'Generated by `{command_line()}` on '
        f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, {os.cpu_count()} CPU cores, {gpu_name()}. '
        f'Training: {args.num_train} rendered images at {args.img_size} px (rare fraction {args.rare_fraction}), '
        f'test: {args.num_test} images (half rare), ImageNet EfficientNet-Lite0 at 96 px with a 2D heatmap '
        f'neck (docs/quickstart.md){start}, {args.iters} iterations x batch {args.batch_size} for EACH model and seed '
        f'(seeds {seeds}{"; learning rate x " + str(args.batch_size / 32) if args.batch_size != 32 else ""}'
        f'{"; " + args.amp + " AMP" if args.amp else ""}; {args.workers} loader workers, {args.parallel} '
        f'trainings side by side), K={args.k} prototypes.', '',
        *pose2d_section(out),
        '## Did the models learn?', '',
        'Against the image-free baselines (SMPL-24 MPJPE, mm): the best constant (the mean test pose), and the '
        'training mean pose posed with the GT global orientation and shape (an oracle on orientation, HMR\'s '
        'starting point):', '', baseline_table(diag_files), '',
        'Spread ratio = spread of the predicted root-relative joints over the test images / that of the ground '
        'truth (0 = the same body for every input).', '']
    for seed, diag in diagnostics.items():
        lines += [f'Seed {seed}:', '', open(osp.join(ROOT, f'{diag}.md')).read(), '']
    lines += [f'![training curves](training_curves_seed{seed0}.png)', '',
              '## Errors (mm)', '',
              'MPJPE / PA-MPJPE on the 14 LSP joints regressed through the H36M regressor (3DPW protocol), PVE over '
              'all vertices; rarity = mean vertex distance of the GT mesh from the mean-pose mesh; "rare clips" = '
              'cartwheel/backflip/crawl/roll/getup. '
              + ('Mean ± std over the seeds.' if len(args.seeds) > 1 else 'One seed: no error bars.'), '',
              metrics_table(results), '', comparison(results), '',
              'Body pose alone: each model\'s predicted body pose posed with the GT global orientation and shape '
              '(MPJPE, 24 SMPL joints, mm; `tools/learning_diagnostics.py`), so that global-orientation errors, '
              'shared by the heads, do not mask the articulation the starting point is about. Tails: the samples '
              'whose GT mesh is farthest from the mean-pose mesh.', '',
              articulation_table(diag_files), '',
              'Where each head starts (no training; `tools/prototype_coverage.py`, GT orientation and shape):', '',
              open(osp.join(ROOT, out, 'starting_points.md')).read(), '',
              '![error vs rarity](error_vs_rarity.png)', '',
              'Test renders: ![renders](test_renders.png)', '',
              f'Predicted meshes on rare and common test samples (seed {seed0}): ![overlays](overlays.png)', '',
              '## Step times', '', '| step | seconds |', '|---|---|',
              *[f'| {k} | {v:.0f} |' for k, v in steps.times.items()],
              f'| total | {time.time() - steps.start:.0f} |', '']
    with open(osp.join(ROOT, out, 'report.md'), 'w') as f:
        f.write('\n'.join(lines))
    print(metrics_table(results) + '\n\n' + comparison(results))
    print(f'\nreport: {osp.join(out, "report.md")}  (total {time.time() - steps.start:.0f} s)')


if __name__ == '__main__':
    main()
