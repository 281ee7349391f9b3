"""Evaluates a checkpoint with MMEngine's Runner (modelled on MMPose 1.x ``tools/test.py``).

    python tools/test.py configs/pmnet_res18-w32-1xb16-300it_synthetic-96x96.py work_dirs/pmnet/iter_1000.pth \
        --out metrics.json --dump preds.npz --show-dir vis

``--dump`` writes the SMPL predictions: ``.pkl`` keeps MMEngine's ``DumpResults`` output (every predicted
data sample as a dict); ``.npz`` stacks the per-sample arrays (``smpl_pose`` (N, 72), ``smpl_betas`` (N, 10),
``pred_cam`` (N, 3), ``keypoints_3d`` (N, 24, 3), ``keypoints`` (N, 24, 2) in image px, ``proto_id`` ... when
present) plus ``img_path`` and ``id``. Does not import ``mmpose.apis`` (it needs torchvision).
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import Dict, List

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import mmengine  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers components; torch>=2.6 checkpoint fix)
from pmnet_plugin.apis.checkpoint import check_checkpoint_fits, read_checkpoint  # noqa: E402
from pmnet_plugin.engine import (  # noqa: E402  (also: NaNGuardHook, no torchvision)
    close_distributed, setup_cpu_distributed)
from pmnet_plugin.utils import cli  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402
from pmnet_plugin.utils.tensor_utils import to_numpy  # noqa: E402

# prediction fields written to a .npz dump (those a head does not produce are skipped)
DUMP_FIELDS = ('smpl_pose', 'smpl_betas', 'pred_cam', 'keypoints_3d', 'keypoints', 'keypoint_scores',
               'proto_id', 'proto_score', 'vertices')
DUMP_META = ('img_path', 'id', 'sample_idx')


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
    return args


def merge_args(cfg: Config, args: argparse.Namespace, pkl_dump: str = None) -> Config:
    """Applies the command line to ``cfg`` (:func:`pmnet_plugin.utils.cli.merge_args`); ``pkl_dump`` is where
    ``DumpResults`` writes."""

    def apply_test_args(cfg: Config, args: argparse.Namespace) -> None:
        cfg.load_from = args.checkpoint
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
        if pkl_dump is not None:
            dump_metric = dict(type='DumpResults', out_file_path=pkl_dump)
            evaluator = cfg.test_evaluator
            cfg.test_evaluator = ([*evaluator, dump_metric] if isinstance(evaluator, (list, tuple))
                                  else [evaluator, dump_metric])

    cli.merge_args(cfg, args, apply_test_args)
    set_rarity_outputs(cfg, osp.splitext(osp.basename(args.config))[0])
    return cfg


def set_rarity_outputs(cfg: Config, model_name: str) -> None:
    """``PoseRarity`` evaluators without ``out_dir`` / ``model_name`` write ``rarity_<config name>.json/.png``
    into the work dir."""
    evaluator = cfg.get('test_evaluator', None)
    for ev in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]:
        if isinstance(ev, dict) and ev.get('type') in ('PoseRarity', 'PoseRarityMetric'):
            if ev.get('out_dir', None) is None:
                ev['out_dir'] = cfg.work_dir
            if ev.get('model_name', None) is None:
                ev['model_name'] = model_name


def samples_to_arrays(samples: List[Dict], with_vertices: bool = False) -> Dict[str, np.ndarray]:
    """Stacks the predictions of ``DumpResults``' data-sample dicts, one row per instance.

    Args:
        samples (list[dict]): ``PoseDataSample.to_dict()``-style dicts with ``pred_instances``.
        with_vertices (bool): Keep ``vertices`` (N, 6890, 3). Defaults to False (large).

    Returns:
        dict[str, np.ndarray]: ``smpl_pose`` (N, 72), ``smpl_betas`` (N, 10), ... and ``img_path`` (N,).
    """
    fields = [f for f in DUMP_FIELDS if with_vertices or f != 'vertices']
    rows: Dict[str, list] = {}
    for sample in samples:
        pred = sample.get('pred_instances', {})
        num = None
        for name in fields:
            if name in pred:
                arr = to_numpy(pred[name])
                num = arr.shape[0] if num is None else num
                rows.setdefault(name, []).append(arr)
        for name in DUMP_META:
            if name in sample:
                rows.setdefault(name, []).extend([sample[name]] * (num or 1))
    return {k: (np.concatenate(v) if k in fields else np.asarray(v)) for k, v in rows.items()}


class SaveMetricHook(Hook):
    """Writes the test metrics to ``out_file`` (main process only)."""

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file

    def after_test_epoch(self, runner, metrics=None) -> None:
        if metrics is not None and is_main_process():
            mmengine.mkdir_or_exist(osp.dirname(osp.abspath(self.out_file)))
            mmengine.dump(metrics, self.out_file)


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
    tmp_dir = None
    pkl_dump = None
    if args.dump is not None:
        if args.dump.endswith('.npz'):
            tmp_dir = tempfile.mkdtemp(prefix='pmnet_dump_')
            pkl_dump = osp.join(tmp_dir, 'preds.pkl')
        else:
            pkl_dump = args.dump
    cfg = merge_args(Config.fromfile(args.config), args, pkl_dump)
    setup_cpu_distributed(cfg)  # torchrun on a machine without CUDA: gloo, DDP without device ids
    runner = Runner.from_cfg(cfg)
    check_runner_checkpoint(runner, args.checkpoint, args.strict)
    if args.out:
        runner.register_hook(SaveMetricHook(args.out), 'LOWEST')
    metrics = runner.test()
    if tmp_dir is not None and is_main_process():
        arrays = samples_to_arrays(mmengine.load(pkl_dump), with_vertices=args.dump_vertices)
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.dump)))
        np.savez(args.dump, **arrays)
        runner.logger.info(f'SMPL predictions of {len(arrays.get("smpl_pose", []))} instances '
                           f'dumped to {args.dump}')
    close_distributed()
    return metrics


if __name__ == '__main__':
    sys.exit(run_with_file_errors(main))
