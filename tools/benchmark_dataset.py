"""Benchmark SMPLImageDataset: annotation indexing and memory at scale, and pipeline throughput.

Writes an N-sample HumanData file, times construction and ``get_data_info``, reports RSS and PSS with
0 and 2 loader workers (``--compare-mmengine``: also MMEngine's serialised list of dicts), then images/s
through the training pipeline per worker count. Results: ``docs/datasets.md``::

    .venv/bin/python tools/benchmark_dataset.py --num-samples 300000 --workers 0 1 2
"""
import argparse
import gc
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers everything)
from pmnet_plugin.datasets import SMPLImageDataset  # noqa: E402
from pmnet_plugin.utils.paths import REPO_ROOT  # noqa: E402

# the training pipeline of the SPIN-mix configs (224x224 crops)
TRAIN_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'mesh_res50_spin_mix.py')


def write_fake_humandata(folder: str, n: int, num_images: int = 32, img_size: int = 256) -> str:
    """HumanData npz with ``n`` samples ('smpl' convention) over ``num_images`` JPEGs."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(folder, 'imgs'), exist_ok=True)
    for i in range(num_images):
        img = rng.integers(0, 255, (img_size, img_size, 3), dtype=np.uint8)
        cv2.imwrite(osp.join(folder, 'imgs', f'{i:04d}.jpg'), img)
    keypoints = np.concatenate([rng.uniform(40, 216, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    keypoints_3d = np.concatenate([rng.normal(0, .3, (n, 24, 3)), np.ones((n, 24, 1))], -1)
    smpl = dict(global_orient=rng.normal(0, .3, (n, 3)).astype(np.float32),
                body_pose=rng.normal(0, .2, (n, 69)).astype(np.float32),
                betas=rng.normal(0, 1, (n, 10)).astype(np.float32),
                transl=np.zeros((n, 3), np.float32))
    path = osp.join(folder, 'bench.npz')
    np.savez(path,
             image_path=np.array([f'imgs/{i % num_images:04d}.jpg' for i in range(n)]),
             bbox_xywh=np.tile(np.array([[32., 32., 192., 192., 1.]], np.float32), (n, 1)),
             keypoints2d=keypoints.astype(np.float32), keypoints2d_mask=np.ones(24, np.float32),
             keypoints2d_convention=np.array('smpl'), keypoints3d=keypoints_3d.astype(np.float32),
             keypoints3d_mask=np.ones(24, np.float32), keypoints3d_convention=np.array('smpl'),
             smpl=np.array(smpl, dtype=object),
             meta=np.array(dict(clip=np.array([f'clip{i % 15:02d}' for i in range(n)]),
                                is_rare=(rng.uniform(size=n) < .1).astype(np.float32)),
                           dtype=object))
    return path


def mem_kib(pid: int) -> tuple:
    """(RSS, PSS) in KiB of a process, from /proc/<pid>/smaps_rollup."""
    rss = pss = 0
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            if line.startswith('Rss:'):
                rss = int(line.split()[1])
            elif line.startswith('Pss:'):
                pss = int(line.split()[1])
    return rss, pss


def children(pid: int) -> list:
    """Direct child pids of ``pid``."""
    out = []
    for tid in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{tid}/children') as f:
            out += [int(p) for p in f.read().split()]
    return out


class _InfoOnly(torch.utils.data.Dataset):
    """Touch annotations only (no image decoding): what a worker keeps in memory for indexing."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        info = self.ds.get_data_info(i)
        return info['keypoints'].sum() + info['smpl_pose'].sum()


def memory_with_workers(ds, workers: int, num_items: int) -> dict:
    """Iterate ``num_items`` annotations with ``workers`` workers; total RSS/PSS at the end."""
    loader = DataLoader(_InfoOnly(ds), batch_size=256, shuffle=True, num_workers=workers,
                        persistent_workers=False)
    it = iter(loader)
    seen = 0
    for batch in it:
        seen += len(batch)
        if seen >= num_items:
            break
    pids = [os.getpid()] + children(os.getpid())
    mems = [mem_kib(p) for p in pids]
    del it, loader
    gc.collect()
    return dict(procs=len(pids), rss=sum(m[0] for m in mems) / 1024.,
                pss=sum(m[1] for m in mems) / 1024.)


def mmengine_baseline(ds) -> tuple:
    """Build MMEngine's serialized list-of-dicts for the same rows; returns (seconds, MiB of bytes)."""
    from mmengine.dataset import BaseDataset
    t0 = time.perf_counter()
    holder = BaseDataset.__new__(BaseDataset)
    holder.data_list = [ds.get_data_info(i) for i in range(len(ds))]
    data_bytes, address = BaseDataset._serialize_data(holder)
    return time.perf_counter() - t0, (data_bytes.nbytes + address.nbytes) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=300_000)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    parser.add_argument('--images', type=int, default=384, help='images per throughput run')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--compare-mmengine', action='store_true')
    parser.add_argument('--work-dir', default=None, help='keep the generated file here')
    parser.add_argument('--reuse', action='store_true', help='reuse work-dir/bench.npz if present')
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    work = args.work_dir or tempfile.mkdtemp(prefix='pmnet_bench_')
    t0 = time.perf_counter()
    ann = osp.join(work, 'bench.npz')
    if not (args.reuse and osp.isfile(ann)):
        ann = write_fake_humandata(work, args.num_samples)
    t_write = time.perf_counter() - t0
    size_mb = osp.getsize(ann) / 2**20
    base_rss = mem_kib(os.getpid())[0] / 1024.

    t0 = time.perf_counter()
    pipeline = Config.fromfile(TRAIN_CONFIG).train_pipeline
    ds = SMPLImageDataset(ann_file=ann, data_prefix=dict(img=work), pipeline=pipeline)
    t_build = time.perf_counter() - t0
    ann_mb = sum(v.nbytes for v in ds.columns.values()) / 2**20
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(ds), 20_000)
    t0 = time.perf_counter()
    for i in idx:
        ds.get_data_info(int(i))
    t_info = (time.perf_counter() - t0) / len(idx) * 1e6

    print(f'\n### (a) Annotation indexing, N = {len(ds):,} samples\n')
    print('| step | value |\n|---|---|')
    print(f'| write HumanData npz ({size_mb:.0f} MiB on disk) | {t_write:.1f} s |')
    print(f'| build `SMPLImageDataset` (read + convert + filter) | {t_build:.1f} s |')
    print(f'| annotation columns in memory | {ann_mb:.0f} MiB |')
    print(f'| `get_data_info` (random index) | {t_info:.1f} us/sample |')
    print(f'| main-process RSS before / after building | {base_rss:.0f} / '
          f'{mem_kib(os.getpid())[0] / 1024.:.0f} MiB |')
    print('\n| workers | processes | total RSS (MiB) | total PSS (MiB) |\n|---|---|---|---|')
    for w in sorted(set([0, 2] + [x for x in args.workers if x <= 2])):
        m = memory_with_workers(ds, w, num_items=20_000)
        print(f'| {w} | {m["procs"]} | {m["rss"]:.0f} | {m["pss"]:.0f} |')

    if args.compare_mmengine:
        t_ser, ser_mb = mmengine_baseline(ds)
        print(f'\nFor comparison, MMEngine\'s default storage (list of per-sample dicts, pickled by '
              f'`serialize_data=True`) of the same rows: {t_ser:.1f} s to build, {ser_mb:.0f} MiB '
              f'buffer (columns: {ann_mb:.0f} MiB).')

    print(f'\n### (b) Training pipeline throughput ({args.images} images, 256x256 JPEG -> 224 crop, '
          f'batch {args.batch_size}, {os.cpu_count()} CPU cores)\n')
    print('| workers | images/s |\n|---|---|')
    for w in args.workers:
        loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=w,
                            collate_fn=pseudo_collate, persistent_workers=False)
        it = iter(loader)
        next(it)  # warm-up: worker start and first batch are not counted
        n, t0 = 0, time.perf_counter()
        while n < args.images:
            n += len(next(it)['inputs'])
        rate = n / (time.perf_counter() - t0)
        del it, loader
        print(f'| {w} | {rate:.0f} |')


if __name__ == '__main__':
    main()
