"""Speed and memory of the bare backbone, HMR and PM-Net, measured side by side in ONE run.

    python tools/benchmark.py                                   # res50 pair, cuda if available
    python tools/benchmark.py --configs configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py \
        configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py \
        --device cpu --batch-sizes 1 16 --iters 5 --warmup 1 --out-dir outputs/bench_cpu
    python tools/benchmark.py --device cuda --batch-sizes 1 256 --train-batch-size 128 --compile --profile
    python tools/benchmark.py --configs configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py \
        --device cpu --batch-sizes 1 16 --backends eager compile onnxruntime --backends-only \
        --threads 2 --out-dir outputs/bench_backends

Times inference (interleaved call by call) and one training step per model and setting, with peak
memory, ratios and the GPU targets; optionally the training loader, profiles and inference backends.
Writes ``benchmark.json`` and ``benchmark.md`` to ``--out-dir``. What is measured: ``docs/benchmark.md``.
"""
import argparse
import datetime
import os
import os.path as osp
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from pmnet_plugin.analysis.backend_benchmark import (BACKENDS, backend_ratios,  # noqa: E402
                                                     backends_markdown, measure_backends)
from pmnet_plugin.analysis.benchmark_report import (breakdown, compute_ratios,  # noqa: E402
                                                    evaluate_targets, write_report)
from pmnet_plugin.analysis.benchmarking import (INFER_MODES, PeakMemory, autocast,  # noqa: E402
                                                bench_dataloader, count_ops, cpu_name,
                                                label_modules, profile_calls, summarize_times,
                                                time_interleaved)

# what a bare torchvision ResNet-50 reaches on one H100 (random init, channels_last; crops/s, img/s)
REFERENCE_H100 = dict(infer_fp32_bs256=7400, infer_bf16_bs256=12600, infer_bf16_compile_bs256=20400,
                      train_fp32_bs128=2400, train_bf16_bs128=3500)
PROFILE_LABELS = ('backbone', 'neck', 'head.selector', 'head.regressor', 'head.body_model')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Benchmark bare backbone vs HMR vs PM-Net')
    p.add_argument('--configs', nargs='+',
                   default=['configs/hmr_res50_1xb64-200k_spin-mix-224x224.py',
                            'configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py'],
                   help='baseline first (HMR), then the candidate (PM-Net)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 64])
    p.add_argument('--train-batch-size', type=int, help='default: the largest --batch-sizes (>= 2)')
    p.add_argument('--no-train', action='store_true', help='skip the training-step measurement')
    p.add_argument('--modes', nargs='+', choices=INFER_MODES, default=list(INFER_MODES),
                   help='inference modes to time (default: all)')
    p.add_argument('--iters', type=int, default=20, help='timed calls per measurement (median)')
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--input-size', type=int, default=224)
    p.add_argument('--threads', type=int, help='torch.set_num_threads (CPU); default: torch default')
    p.add_argument('--amp', choices=['none', 'bf16', 'fp16'], help='default: bf16 on cuda, none on cpu')
    p.add_argument('--channels-last', action=argparse.BooleanOptionalAction, help='default: on for cuda')
    p.add_argument('--compile', action='store_true', help='add a torch.compile setting (backbone/neck/IEF)')
    p.add_argument('--body-model-dir', help='folder with SMPL_NEUTRAL.{pkl,npz}, J_regressor_h36m.npy, '
                   'smpl_mean_params.npz (default: config paths; synthetic files if missing)')
    p.add_argument('--prototype-file', help='default: the config path; random prototypes if missing')
    p.add_argument('--data-root', help='offline data root for the dataloader benchmark')
    p.add_argument('--ann-file', help='training annotation file (relative to --data-root)')
    p.add_argument('--workers', nargs='+', type=int, default=[0, 2])
    p.add_argument('--loader-batches', type=int, default=20)
    p.add_argument('--loader-batch-size', type=int, help='default: the config batch size')
    p.add_argument('--loader-repeats', type=int, default=1, help='interleaved rounds over --workers')
    p.add_argument('--profile', action='store_true', help='torch.profiler tables (largest batch)')
    p.add_argument('--count-ops', action='store_true',
                   help='aten ops and host syncs per call (largest batch, fp32; launches/syncs on a GPU)')
    p.add_argument('--profile-rows', type=int, default=15)
    p.add_argument('--backends', nargs='+', choices=BACKENDS, default=[],
                   help='time the demo path per inference backend (CPU)')
    p.add_argument('--backends-only', action='store_true',
                   help='only the --backends rows (no modes, training, dataloader)')
    p.add_argument('--out-dir', default='outputs/benchmark')
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- building
def find_body_model_files(folder: str) -> dict:
    """Paths of the body-model assets inside ``folder`` (None where absent)."""
    def first(*names):
        hits = [osp.join(folder, n) for n in names if osp.isfile(osp.join(folder, n))]
        return hits[0] if hits else None
    return dict(model_path=first('smpl/SMPL_NEUTRAL.pkl', 'smpl/SMPL_NEUTRAL.npz', 'SMPL_NEUTRAL.pkl',
                                 'SMPL_NEUTRAL.npz'),
                joint_regressor_h36m=first('J_regressor_h36m.npy'),
                mean_params=first('smpl_mean_params.npz'))


def resolve_head_files(head, args, state: dict, notes: list) -> None:
    """Points ``head`` (a config dict) at existing body-model and prototype files, making them if needed."""
    bm = head.get('body_model')
    if isinstance(bm, dict):
        folder = args.body_model_dir or state.get('body_dir')
        if folder is None and not osp.isfile(bm.get('model_path', '')):
            folder = state['body_dir'] = osp.join(args.out_dir, 'body_models')
            if find_body_model_files(folder)['model_path'] is None:
                from pmnet_plugin.synthetic.procedural_body import make_synthetic_smpl
                make_synthetic_smpl(folder, seed=0)
            notes.append(f'{bm.get("model_path")} not found: used the synthetic SMPL-format body (6890 '
                         f'vertices, as tools/make_synthetic_smpl.py writes it) in {folder}')
        if folder is not None:
            files = find_body_model_files(folder)
            if files['model_path'] is None:
                raise FileNotFoundError(f'no SMPL_NEUTRAL.pkl/.npz under {folder}')
            bm['model_path'] = files['model_path']
            bm['joint_regressor_h36m'] = files['joint_regressor_h36m']
            head['mean_params'] = files['mean_params']
    if head.get('mean_params') and not osp.isfile(head['mean_params']):
        notes.append(f'{head["mean_params"]} not found: mean params = built-in fallback')
        head['mean_params'] = None
    if 'prototype_file' in head or head.get('type') == 'PrototypeMemoryHead':
        path = args.prototype_file or head.get('prototype_file')
        if not path or not osp.isfile(path):
            from pmnet_plugin.prototypes import build_prototypes, save_prototypes
            k = int(head.get('num_prototypes', 32))
            path = osp.join(args.out_dir, f'random_prototypes_k{k}.npz')
            if not osp.isfile(path):
                poses = np.random.default_rng(0).normal(0, 0.3, (16 * k, 72)).astype(np.float32)
                save_prototypes(path, build_prototypes(poses, k=k, source='random (benchmark)'))
            notes.append(f'no prototype file: used {k} RANDOM prototypes ({path}); timing does not '
                         'depend on their values')
        head['prototype_file'] = path
    if head.get('rarity_file') and not osp.isfile(head['rarity_file']):
        notes.append(f'{head["rarity_file"]} not found: no rarity percentiles (the rarity score is still '
                     'computed; timing does not depend on the table)')
        head['rarity_file'] = None


def model_name(head_type: str, path: str, taken) -> str:
    name = dict(HMRHead='hmr', PrototypeMemoryHead='pmnet').get(head_type, osp.splitext(
        osp.basename(path))[0])
    return name if name not in taken else f'{name}_{len(taken)}'


class BareBackbone(nn.Module):
    """The config's backbone + neck alone (the throughput ceiling of the full model)."""

    def __init__(self, backbone: nn.Module, neck) -> None:
        super().__init__()
        self.backbone, self.neck = backbone, neck

    def forward(self, x):
        feats = self.backbone(x)
        return self.neck(feats) if self.neck is not None else feats


def build_models(args, notes: list):
    """Builds (name -> estimator) for every config and the bare backbone of the first one."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import pmnet_plugin  # noqa: F401  (registers the components)
    init_default_scope('mmpose')
    models, info, state, bare = {}, {}, {}, None
    for path in args.configs:
        cfg = Config.fromfile(path)
        if isinstance(cfg.model.get('backbone'), dict):
            cfg.model.backbone.pop('init_cfg', None)  # random init: nothing is downloaded
        resolve_head_files(cfg.model.head, args, state, notes)
        model = MODELS.build(cfg.model).to(args.device).eval()
        name = model_name(cfg.model.head.type, path, models)
        models[name] = model
        info[name] = dict(config=path, head=cfg.model.head.type,
                          params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                          check_finite=getattr(model.head.body_model, 'check_finite', None))
        if bare is None:
            neck = MODELS.build(cfg.model.neck) if cfg.model.get('neck') else None
            bare = BareBackbone(MODELS.build(cfg.model.backbone), neck).to(args.device).eval()
            info['bare'] = dict(config=path, head=None, backbone=cfg.model.backbone.type,
                                depth=cfg.model.backbone.get('depth'),
                                params_m=sum(p.numel() for p in bare.parameters()) / 1e6)
        train_opt = cfg.get('optim_wrapper', {}).get('optimizer', dict(type='Adam', lr=1e-4))
    return bare, models, info, train_opt


def make_samples(batch_size: int, size: int, device: str, train: bool):
    """PoseDataSamples with the metainfo ``predict`` needs and (train) random ``gt_instance_labels``."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    g = torch.Generator().manual_seed(batch_size)
    out = []
    for i in range(batch_size):
        ds = PoseDataSample(metainfo=dict(
            input_size=(size, size), input_center=np.full(2, size / 2, np.float32),
            input_scale=np.full(2, size, np.float32), img_shape=(size, size), ori_shape=(size, size),
            id=i, img_id=i, sample_idx=i, img_path=f'bench_{i}.jpg', flip_indices=list(range(24))))
        ds.gt_instances = InstanceData(bboxes=np.array([[0, 0, size, size]], np.float32),
                                       bbox_scores=np.ones(1, np.float32))
        if train:
            ds.gt_instance_labels = InstanceData(
                keypoint_labels=torch.rand(1, 24, 2, generator=g) * 2 - 1,
                keypoint_weights=torch.ones(1, 24), keypoints_3d=torch.randn(1, 24, 3, generator=g) * .3,
                keypoints_3d_weights=torch.ones(1, 24), smpl_pose=torch.randn(1, 72, generator=g) * .2,
                smpl_betas=torch.randn(1, 10, generator=g) * .5, has_smpl=torch.ones(1)).to(device)
        out.append(ds)
    return out


# ----------------------------------------------------------------------------- timed functions
def bare_fn(bare, x, amp, device):
    def fn():
        with torch.no_grad(), autocast(device, amp):
            return bare(x)
    return fn


def inference_fns(name, model, x, samples, amp, device) -> dict:
    """Zero-argument callables for every inference mode of one estimator."""
    head = model.head

    def forward(smpl: bool):
        def fn():
            with torch.no_grad(), autocast(device, amp):
                preds = head.forward(model.extract_feat(x))
                return head.run_body_model(preds['smpl_pose_rotmat'], preds['smpl_betas']) if smpl else preds
        return fn

    def predict(vertices: bool):
        def fn():
            model.test_cfg['output_vertices'] = vertices
            with torch.no_grad(), autocast(device, amp):
                return model.predict(x, samples)
        return fn

    return {(name, 'forward'): forward(False), (name, 'forward_smpl'): forward(True),
            (name, 'predict'): predict(True), (name, 'predict_novert'): predict(False)}


def train_fn(model, x, samples, amp, device, optimizer, bare: bool):
    """One optimizer step: estimator losses (``mode='loss'``), or the mean feature for the bare backbone."""
    def fn():
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, amp):
            if bare:
                feats = model(x)
                loss = sum(f.float().mean() for f in feats)
            else:
                losses = model(x, samples, mode='loss')
                loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        optimizer.step()
    return fn


def apply_setting(modules: dict, setting: dict, originals: dict) -> None:
    """Memory format and (optionally) torch.compile of backbone / neck / IEF regressor, in place."""
    fmt = torch.channels_last if setting['channels_last'] else torch.contiguous_format
    for name, m in modules.items():
        slots = [(m, 'backbone'), (m, 'neck')] + ([(m.head, 'regressor')] if hasattr(m, 'head') else [])
        for owner, attr in slots:
            key = (name, attr)
            if getattr(owner, attr, None) is None:
                continue
            originals.setdefault(key, getattr(owner, attr))
            setattr(owner, attr, torch.compile(originals[key]) if setting['compile'] else originals[key])
        m.to(memory_format=fmt)


def measure(args, bare, models: dict, settings: list, train_bs: int, opt_cfg: dict, mem) -> tuple:
    """Times every inference mode (interleaved) per setting and batch size, then one training step."""
    from mmengine.registry import OPTIMIZERS
    res, support, originals, size = dict(inference=[], training=[]), {}, {}, args.input_size
    for s in settings:
        apply_setting(dict(models, bare=bare), s, originals)
        fmt = torch.channels_last if s['channels_last'] else torch.contiguous_format
        for bs in args.batch_sizes:
            x = torch.randn(bs, 3, size, size, device=args.device).contiguous(memory_format=fmt)
            samples = make_samples(bs, size, args.device, train=False)
            fns = {('bare', 'backbone'): bare_fn(bare, x, s['amp'], args.device)}
            for n, m in models.items():
                fns.update({k: f for k, f in inference_fns(n, m, x, samples, s['amp'], args.device).items()
                            if k[1] in args.modes})
            for (n, mode), t in time_interleaved(fns, args.iters, args.warmup, args.device, mem).items():
                res['inference'].append(dict(model=n, mode=mode, setting=s['name'], batch_size=bs,
                                             **summarize_times(t['times'], bs), **t))
            for n, m in models.items():
                m.test_cfg['output_vertices'] = False
                with torch.no_grad():
                    support[n] = 'vertices' not in m.predict(x[:1], samples[:1])[0].pred_instances
                m.test_cfg['output_vertices'] = True
            del x, samples, fns
        if not args.no_train:
            x = torch.randn(train_bs, 3, size, size, device=args.device).contiguous(memory_format=fmt)
            samples = make_samples(train_bs, size, args.device, train=True)
            fns = {}
            for n, m in dict(bare=bare, **models).items():
                m.train()
                opt = OPTIMIZERS.build(dict(opt_cfg, params=m.parameters()))
                fns[(n, 'train')] = train_fn(m, x, samples, s['amp'], args.device, opt, n == 'bare')
            for (n, mode), t in time_interleaved(fns, args.iters, args.warmup, args.device, mem).items():
                res['training'].append(dict(model=n, mode=mode, setting=s['name'], batch_size=train_bs,
                                            **summarize_times(t['times'], train_bs), **t))
            for m in dict(bare=bare, **models).values():
                m.eval()
            del x, samples, fns
        if args.device.startswith('cuda'):
            torch.cuda.empty_cache()
    return res, support


def op_counts(args, models: dict, train_bs: int) -> list:
    """aten ops and host syncs of each inference mode (largest batch) and of loss + backward, fp32."""
    bs, size, rows = max(args.batch_sizes), args.input_size, []
    x = torch.randn(bs, 3, size, size, device=args.device)
    xt = torch.randn(train_bs, 3, size, size, device=args.device)
    for n, m in models.items():
        fns = inference_fns(n, m, x, make_samples(bs, size, args.device, False), 'none', args.device)
        for (_, mode), fn in fns.items():
            if mode in args.modes:
                fn()
                rows.append(dict(model=n, mode=mode, batch_size=bs, **count_ops(fn)))
        m.train()
        samples = make_samples(train_bs, size, args.device, True)

        def loss_backward(m=m, samples=samples):
            losses = m(xt, samples, mode='loss')
            sum(v for k, v in losses.items() if 'loss' in k).backward()
        loss_backward()
        rows.append(dict(model=n, mode='loss+backward', batch_size=train_bs, **count_ops(loss_backward)))
        m.zero_grad(set_to_none=True)
        m.eval()
    return rows


def run_profile(args, models: dict, s: dict, train_bs: int, opt_cfg: dict) -> dict:
    """torch.profiler tables of ``predict`` and a training step (largest batch, last setting)."""
    from mmengine.registry import OPTIMIZERS
    fmt = torch.channels_last if s['channels_last'] else torch.contiguous_format
    bs, size, out = max(args.batch_sizes), args.input_size, {}
    x = torch.randn(bs, 3, size, size, device=args.device).contiguous(memory_format=fmt)
    xt = torch.randn(train_bs, 3, size, size, device=args.device).contiguous(memory_format=fmt)
    for n, m in models.items():
        handles = label_modules(m, PROFILE_LABELS)
        fn = inference_fns(n, m, x, make_samples(bs, size, args.device, False), s['amp'],
                           args.device)[(n, 'predict')]
        out[n + '_predict'] = profile_calls(f'{n}_predict', fn, args.device, args.profile_rows, args.out_dir)
        if not args.no_train:
            m.train()
            opt = OPTIMIZERS.build(dict(opt_cfg, params=m.parameters()))
            fn = train_fn(m, xt, make_samples(train_bs, size, args.device, True), s['amp'], args.device,
                          opt, False)
            out[n + '_train'] = profile_calls(f'{n}_train', fn, args.device, args.profile_rows,
                                              args.out_dir)
            m.eval()
        for h in handles:
            h.remove()
    return out


# ----------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith('cuda')
    amp = args.amp or ('bf16' if cuda else 'none')
    cl = cuda if args.channels_last is None else args.channels_last
    settings = [dict(name='fp32' + ('-cl' if cl else ''), amp='none', channels_last=cl, compile=False)]
    if amp != 'none':
        settings.append(dict(name=amp + ('-cl' if cl else ''), amp=amp, channels_last=cl, compile=False))
    if args.compile:
        settings.append(dict(settings[-1], name=settings[-1]['name'] + '-compile', compile=True))
    train_bs = args.train_batch_size or max(2, max(args.batch_sizes))
    bs_max = max(args.batch_sizes)
    load_start = os.getloadavg()
    notes = []
    bare, models, info, opt_cfg = build_models(args, notes)
    names = list(models)
    opt_cfg = dict(opt_cfg)
    opt_cfg.setdefault('type', 'Adam')
    mem = PeakMemory(args.device)
    if args.backends_only:
        res, support, args.no_train = dict(inference=[], training=[]), {}, True
    else:
        res, support = measure(args, bare, models, settings, train_bs, opt_cfg, mem)
    backends = measure_backends(models, args.backends, args.batch_sizes, args.iters, args.warmup,
                                args.out_dir) if args.backends else []
    for n, ok in support.items():
        if not ok:
            notes.append(f'{n}: test_cfg.output_vertices=False is not honoured by predict (vertices still '
                         'returned): predict_novert equals predict')
    for n, i in info.items():
        if i.get('check_finite'):
            notes.append(f'{n}: SMPLBodyModel.check_finite=True: one isfinite check of the inputs per SMPL call, '
                         'one host-device sync on GPU')
    snames = [s['name'] for s in settings]
    profile = run_profile(args, models, settings[-1], train_bs, opt_cfg) if args.profile else {}
    counts = op_counts(args, models, train_bs) if args.count_ops else []
    mem.close()
    ratios = compute_ratios(res, names, snames, args.batch_sizes, train_bs)
    report = dict(
        schema='pmnet-benchmark/1',
        meta=dict(date_utc=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
                  command='python ' + ' '.join([osp.relpath(__file__, ROOT)] + list(
                      sys.argv[1:] if argv is None else argv)),
                  device=args.device, device_name=torch.cuda.get_device_name(args.device) if cuda
                  else cpu_name(), torch=torch.__version__,
                  torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
                  load_avg_1_5_15min=dict(start=load_start, end=os.getloadavg()),
                  input_size=args.input_size, iters=args.iters, warmup=args.warmup,
                  batch_sizes=args.batch_sizes,
                  train_batch_size=None if args.no_train else train_bs, settings=settings,
                  memory_kind=mem.kind, optimizer=opt_cfg.get('type'),
                  reference_bare_resnet50_h100=REFERENCE_H100),
        models=info, notes=notes, inference=res['inference'], training=res['training'],
        ratios=ratios, targets=[] if args.backends_only else evaluate_targets(
            ratios, names, snames, args.batch_sizes, cuda),
        breakdown=breakdown(res, names, snames, bs_max),
        dataloader=dict(skipped='--backends-only') if args.backends_only else bench_dataloader(
            args.configs[0], args.workers, args.loader_batches, args.loader_batch_size, args.data_root,
            args.ann_file, args.loader_repeats),
        profile=profile, op_counts=counts, backends=backends, backend_ratios=backend_ratios(backends))
    text = write_report(report, args.out_dir)
    if backends:
        text += '\n' + backends_markdown(backends, report['backend_ratios'])
        with open(osp.join(args.out_dir, 'benchmark.md'), 'w') as f:
            f.write(text)
    print(text)
    print(f'wrote {osp.join(args.out_dir, "benchmark.json")} and benchmark.md')
    return report


if __name__ == '__main__':
    main()
