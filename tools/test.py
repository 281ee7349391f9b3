"""Evaluates a checkpoint with MMEngine's Runner (modelled on MMPose 1.x ``tools/test.py``).

    python tools/test.py configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py work_dirs/pmnet/iter_1000.pth \
        --out metrics.json --dump preds.npz --show-dir vis

``--dump`` writes the predictions (``.npz``: per-sample SMPL arrays via ``SMPLPredictionDump``; ``.pkl``:
MMEngine's ``DumpResults``). With ``--work-dir`` every output of the test evaluators goes into that
folder. ``--out`` and ``--dump`` are checked first: their extensions (exit 2), then writability (exit 3).
Does not import ``mmpose.apis`` (it needs torchvision). More: ``docs/configs.md``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import mmengine  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers components; torch>=2.6 checkpoint fix)
from pmnet_plugin.apis.checkpoint import check_checkpoint_fits, read_checkpoint  # noqa: E402
from pmnet_plugin.compat import close_distributed, setup_cpu_distributed  # noqa: E402
from pmnet_plugin.datasets.body_fingerprint_check import check_render_bodies  # noqa: E402
from pmnet_plugin.utils import cli  # noqa: E402
from pmnet_plugin.utils.atomic_io import atomic_write, check_writable  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402

RARITY_TYPES = ('PoseRarity', 'PoseRarityMetric', 'mmpose.PoseRarity', 'mmpose.PoseRarityMetric')
# evaluator key that names an output file, by type
DUMP_KEYS = {'DumpResults': 'out_file_path', 'SMPLPredictionDump': 'out_file'}
OUT_EXTS = ('.json', '.yaml', '.yml', '.pkl', '.pickle')  # the formats mmengine.dump writes


def parse_args(argv=None) -> argparse.Namespace:
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) a pmnet_plugin mesh model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='file (.json/.yaml/.pkl) to save the metrics to')
    parser.add_argument('--dump', help='file (.npz or .pkl) to dump the SMPL predictions to')
    parser.add_argument('--dump-vertices', action='store_true', help='include vertices in an .npz dump')
    parser.add_argument('--show-dir', help='directory to save rendered results to')
    parser.add_argument('--show', action='store_true', help='display results in a window')
    parser.add_argument('--interval', type=int, default=1, help='visualize every n-th sample')
    parser.add_argument('--wait-time', type=float, default=1, help='seconds each shown image stays')
    parser.add_argument('--strict', action=argparse.BooleanOptionalAction, default=True,
                        help='refuse a checkpoint whose keys/shapes differ from the model (default); '
                        '--no-strict loads what fits, with a warning')
    cli.add_runner_args(parser)
    args = cli.set_local_rank(parser.parse_args(argv))
    if args.dump is not None and not args.dump.endswith(('.npz', '.pkl', '.pickle')):
        parser.error('--dump must end with .npz, .pkl or .pickle')
    if args.out is not None and not args.out.endswith(OUT_EXTS):
        parser.error(f'--out {args.out}: the metrics file must end with {", ".join(OUT_EXTS)} (checked before '
                     'the evaluation, so no work is lost)')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to ``cfg`` (:func:`pmnet_plugin.utils.cli.merge_args`)."""

    def apply_test_args(cfg: Config, args: argparse.Namespace) -> None:
        cfg.load_from = args.checkpoint
        if args.work_dir is not None:
            rebase_outputs(cfg, cfg.work_dir)
        if args.show or args.show_dir is not None:
            vis = cfg.default_hooks.get('visualization', None)
            if vis is None:
                raise KeyError('--show/--show-dir need default_hooks.visualization in the config')
            vis.enable = True
            vis.show = args.show
            vis.wait_time = args.wait_time
            vis.interval = args.interval
            if args.show_dir is not None:
                vis.out_dir = args.show_dir
        if args.dump is not None:
            if args.dump.endswith('.npz'):
                dump_metric = dict(type='SMPLPredictionDump', out_file=args.dump,
                                   with_vertices=args.dump_vertices)
            else:
                dump_metric = dict(type='DumpResults', out_file_path=args.dump)
            cfg.test_evaluator = [*_evaluators(cfg), dump_metric]

    cli.merge_args(cfg, args, apply_test_args)
    set_rarity_outputs(cfg, osp.splitext(osp.basename(args.config))[0])
    return cfg


def _evaluators(cfg: Config) -> list:
    evaluator = cfg.get('test_evaluator', None)
    if evaluator is None:
        return []
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]


def rebase_outputs(cfg: Config, work_dir: str) -> None:
    """Points every output of the config's test evaluators into ``work_dir``.

    ``PoseRarity``'s ``out_dir`` becomes ``work_dir``; a dump's file keeps its name in ``work_dir``. A config
    saved in a run's work dir holds that run's absolute paths; without this, testing it with another
    ``--work-dir`` would overwrite that run's files.
    """
    for ev in _evaluators(cfg):
        if not isinstance(ev, dict):
            continue
        kind = str(ev.get('type', '')).split('.')[-1]
        moved = None
        if ev.get('type') in RARITY_TYPES and ev.get('out_dir', None) is not None:
            moved = ('out_dir', ev['out_dir'], work_dir)
        elif kind in DUMP_KEYS and ev.get(DUMP_KEYS[kind], None) is not None:
            key = DUMP_KEYS[kind]
            moved = (key, ev[key], osp.join(work_dir, osp.basename(ev[key])))
        if moved is not None and osp.abspath(moved[1]) != osp.abspath(moved[2]):
            ev[moved[0]] = moved[2]
            print_log(f'--work-dir: {kind}.{moved[0]} {moved[1]} -> {moved[2]}', logger='current')


def set_rarity_outputs(cfg: Config, model_name: str) -> None:
    """``PoseRarity`` evaluators without ``out_dir`` / ``model_name`` write ``rarity_<config name>.json/.png``
    into the work dir."""
    for ev in _evaluators(cfg):
        if isinstance(ev, dict) and ev.get('type') in RARITY_TYPES:
            if ev.get('out_dir', None) is None:
                ev['out_dir'] = cfg.work_dir
            if ev.get('model_name', None) is None:
                ev['model_name'] = model_name


def check_outputs_writable(cfg: Config, args: argparse.Namespace) -> None:
    """Fails before the test when ``--out``, ``--dump`` or an evaluator's output folder cannot be written."""
    if args.out:
        check_writable(args.out, '--out', 'Choose another --out path.')
    for ev in _evaluators(cfg):
        if not isinstance(ev, dict):
            continue
        kind = str(ev.get('type', '')).split('.')[-1]
        if kind in DUMP_KEYS and ev.get(DUMP_KEYS[kind], None):
            what = '--dump' if ev[DUMP_KEYS[kind]] == args.dump else f'{kind}.{DUMP_KEYS[kind]}'
            check_writable(ev[DUMP_KEYS[kind]], what, f'Choose another {what} path.')
        elif ev.get('type') in RARITY_TYPES and ev.get('out_dir', None):
            check_writable(osp.join(ev['out_dir'], f'rarity_{ev.get("model_name")}.json'),
                           'PoseRarity.out_dir', 'Choose another --work-dir.')


class SaveMetricHook(Hook):
    """Writes the test metrics to ``out_file`` (main process only)."""

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file

    def after_test_epoch(self, runner, metrics=None) -> None:
        if metrics is not None and is_main_process():
            mmengine.mkdir_or_exist(osp.dirname(osp.abspath(self.out_file)))
            atomic_write(self.out_file, lambda tmp: mmengine.dump(metrics, tmp), 'Choose another --out path.')


def check_runner_checkpoint(runner: Runner, checkpoint: str, strict: bool = True) -> None:
    """Reads ``checkpoint`` and checks that it fits the runner's model before the Runner loads it.

    MMEngine's Runner loads non-strictly; this raises ``CheckpointMismatchError`` (``strict``) or logs a
    warning naming the checkpoint's head and the config's (``pmnet_plugin.apis.checkpoint``). The file
    is read twice (here and by the Runner, whose ``after_load_checkpoint`` hooks must still run).
    """
    from mmengine.model import is_model_wrapper
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    check_checkpoint_fits(model, read_checkpoint(checkpoint), checkpoint, strict, runner.logger)


def main(argv=None) -> dict:
    """Builds the Runner, tests, writes ``--out`` / ``--dump``; returns the metrics."""
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    cli.check_work_dir(cfg)
    check_render_bodies(cfg, 'test')  # renders of another body model: exit 2 before anything is built
    check_outputs_writable(cfg, args)
    setup_cpu_distributed(cfg)  # torchrun on a machine without CUDA: gloo, DDP without device ids
    runner = Runner.from_cfg(cfg)
    check_runner_checkpoint(runner, args.checkpoint, args.strict)
    if args.out:
        runner.register_hook(SaveMetricHook(args.out), 'LOWEST')
    metrics = runner.test()
    close_distributed()
    return metrics


if __name__ == '__main__':
    sys.exit(run_with_file_errors(main))
