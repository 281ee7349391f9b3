"""Tracking and temporal smoothing measured on rendered mocap clips whose SMPL parameters are known.

    python tools/video_eval.py CONFIG CHECKPOINT --out-dir outputs/video_eval \\
        [--body-model data/body_models/smpl/SMPL_NEUTRAL.pkl] [--pose-library data/mocap/pose_library.npz] \\
        [--frames 90] [--min-cutoff 0.5] [--beta 0.7] [--cfg-options ...]

Renders each clip of ``CLIPS`` once into ``OUT`` (``pmnet_plugin.synthetic.video_clip``), reads the video back,
runs the model on the ground-truth boxes of every frame (given in random order), tracks the people
(``IoUTracker``), smooths each track (One-Euro, ``smooth_smpl_track``) and compares the raw and the smoothed
predictions with the truth: MPJPE and acceleration error (mm/frame^2, VIBE's definition) on pelvis-aligned
SMPL joints, ID switches, and the cost per frame of the model, the tracking and the smoothing. Writes
``OUT/report.md`` and ``OUT/metrics.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# name -> people as (clip, yaw in degrees, first frame of the clip); clips of >= 98 frames, so that 90 frames
# do not loop
CLIPS = {'dance': [('dance_b', 30.0, 0)],
         'two-person': [('dance_a', -20.0, 0), ('jump', 20.0, 0)]}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='mesh model config')
    p.add_argument('checkpoint', help='mesh model checkpoint')
    p.add_argument('--out-dir', default='outputs/video_eval', help='renders, report.md, metrics.json')
    p.add_argument('--body-model', default='data/body_models/smpl/SMPL_NEUTRAL.pkl',
                   help='SMPL file the clips are rendered with (the model\'s own)')
    p.add_argument('--pose-library', default='data/mocap/pose_library.npz')
    p.add_argument('--clips', nargs='+', choices=sorted(CLIPS), default=sorted(CLIPS))
    p.add_argument('--frames', type=int, default=90, help='frames per clip')
    p.add_argument('--min-cutoff', type=float, default=0.5, help='One-Euro cutoff at rest, Hz')
    p.add_argument('--beta', type=float, default=0.7, help='One-Euro speed coefficient')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return p.parse_args(argv)


def render_clip(args, name: str) -> str:
    """Renders clip ``name`` into ``args.out_dir`` unless it is there; returns the video path."""
    from pmnet_plugin.synthetic.synth_dataset import get_pose_library
    from pmnet_plugin.synthetic.video_clip import clip_sequence, render_video_clip
    video = osp.join(args.out_dir, f'{name}.mp4')
    if not osp.exists(osp.join(args.out_dir, f'{name}_gt.npz')):
        lib = get_pose_library(args.pose_library)
        rng = np.random.default_rng(0)
        people = [clip_sequence(lib, clip, args.frames, start, np.deg2rad(yaw),
                                np.clip(rng.normal(size=10), -1.5, 1.5))
                  for clip, yaw, start in CLIPS[name]]
        render_video_clip(people, args.body_model, args.out_dir, name)
    return video


def read_boxes(path: str) -> Dict[int, np.ndarray]:
    """``{frame: (N, 5) xyxy + score}`` from a COCO results list whose ``image_id`` is the frame index."""
    boxes: Dict[int, List[List[float]]] = {}
    with open(path) as f:
        for det in json.load(f):
            x, y, w, h = det['bbox']
            boxes.setdefault(int(det['image_id']), []).append([x, y, x + w, y + h, det.get('score', 1.0)])
    return {k: np.asarray(v, np.float32) for k, v in boxes.items()}


def predict_video(model, video: str, boxes: Dict[int, np.ndarray]) -> dict:
    """Runs the model and the tracker on every frame; returns the tracks and the seconds spent."""
    import cv2

    from pmnet_plugin.apis import inference_mesh
    from pmnet_plugin.apis.tracking import IoUTracker, TrackRecorder
    from pmnet_plugin.utils.tensor_utils import to_numpy
    tracker, recorder = IoUTracker(), TrackRecorder(keys=('bboxes', 'smpl_pose', 'smpl_betas'))
    seconds = dict(model=0.0, tracking=0.0)
    capture = cv2.VideoCapture(video)
    frame = 0
    while True:
        ok, img = capture.read()
        if not ok:
            break
        start = time.perf_counter()
        samples = inference_mesh(model, img, boxes.get(frame, np.zeros((0, 5))))
        arrays = {k: np.concatenate([to_numpy(s.pred_instances.get(k)) for s in samples])
                  for k in recorder.keys}
        seconds['model'] += time.perf_counter() - start
        start = time.perf_counter()
        ids = tracker.update(arrays['bboxes'])
        seconds['tracking'] += time.perf_counter() - start
        recorder.add(frame, ids, arrays)
        frame += 1
    capture.release()
    return dict(tracks=recorder.tracks(), frames=frame, seconds=seconds)


def match_tracks(tracks: Dict[int, dict], gt_boxes: np.ndarray, iou_thr: float = 0.5) -> np.ndarray:
    """(T, P) id of the track whose box matches each true person's box per frame (-1: none)."""
    from scipy.optimize import linear_sum_assignment

    from pmnet_plugin.apis.tracking import box_iou
    num_frames, num_people = gt_boxes.shape[:2]
    out = np.full((num_frames, num_people), -1, np.int64)
    for t in range(num_frames):
        here = [(tid, tr['bboxes'][np.flatnonzero(tr['frame'] == t)[0]]) for tid, tr in tracks.items()
                if t in tr['frame']]
        if not here:
            continue
        iou = box_iou(gt_boxes[t], np.stack([b for _, b in here]))
        for r, c in zip(*linear_sum_assignment(-iou)):
            if iou[r, c] >= iou_thr:
                out[t, r] = here[c][0]
    return out


def person_errors(body_model, tracks: Dict[int, dict], track_of_gt: np.ndarray, gt: dict, p: int,
                  key: str) -> dict:
    """MPJPE and acceleration error (mm) of true person ``p`` for the track arrays ``key``."""
    from pmnet_plugin.apis.export import posed_joints
    from pmnet_plugin.evaluation.functional import accel_error
    frames = np.flatnonzero(track_of_gt[:, p] >= 0)
    poses, betas = [], []
    for t in frames:
        track = tracks[track_of_gt[t, p]]
        i = np.flatnonzero(track['frame'] == t)[0]
        poses.append(track[key]['smpl_pose'][i])
        betas.append(track[key]['smpl_betas'][i])
    pred = posed_joints(body_model, np.stack(poses), np.stack(betas))['joints'] * 1000
    true = gt['joints'][frames, p] * 1000
    pred, true = pred - pred[:, :1], true - true[:, :1]
    accel = []
    for run in np.split(np.arange(len(frames)), np.flatnonzero(np.diff(frames) != 1) + 1):
        if len(run) >= 3:
            accel.append(accel_error(pred[run], true[run]))
    return dict(mpjpe=np.linalg.norm(pred - true, axis=-1).mean(1),
                accel=np.concatenate(accel) if accel else np.zeros(0))


def evaluate_clip(args, model, body_model, name: str) -> dict:
    """Renders (once), predicts, tracks, smooths and scores one clip."""
    from pmnet_plugin.apis.smoothing import smooth_smpl_track
    from pmnet_plugin.evaluation.functional import id_switches
    video = render_clip(args, name)
    gt = dict(np.load(osp.join(args.out_dir, f'{name}_gt.npz')))
    result = predict_video(model, video, read_boxes(osp.join(args.out_dir, f'{name}_boxes.json')))
    fps = float(gt['fps'])
    start = time.perf_counter()
    tracks = {}
    for tid, track in result['tracks'].items():
        smoothed = smooth_smpl_track(track, fps=fps, min_cutoff=args.min_cutoff, beta=args.beta)
        tracks[tid] = dict(track, raw=track, smoothed=smoothed)
    smoothing = time.perf_counter() - start
    track_of_gt = match_tracks(tracks, gt['bboxes'])
    errors = {key: [person_errors(body_model, tracks, track_of_gt, gt, p, key)
                    for p in range(gt['bboxes'].shape[1])] for key in ('raw', 'smoothed')}
    num = result['frames']
    row = dict(clip=name, frames=num, people=int(gt['bboxes'].shape[1]), tracks=len(tracks),
               id_switches=id_switches(track_of_gt), unmatched=int((track_of_gt < 0).sum()),
               model_ms=1000 * result['seconds']['model'] / num,
               tracking_ms=1000 * result['seconds']['tracking'] / num, smoothing_ms=1000 * smoothing / num)
    for key, per_person in errors.items():
        row[f'mpjpe_{key}'] = float(np.concatenate([e['mpjpe'] for e in per_person]).mean())
        row[f'accel_{key}'] = float(np.concatenate([e['accel'] for e in per_person]).mean())
    return row


def report(rows: List[dict], args) -> str:
    """The markdown table of ``rows``."""
    lines = [f'One-Euro min_cutoff={args.min_cutoff} Hz, beta={args.beta}; errors on pelvis-aligned SMPL joints.',
             '',
             '| clip | frames x people | MPJPE raw / smoothed (mm) | change | accel error raw / smoothed '
             '(mm/frame^2) | ratio | ID switches | ms/frame: model / tracking / smoothing |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        change = 100 * (r['mpjpe_smoothed'] / r['mpjpe_raw'] - 1)
        lines.append(
            f"| {r['clip']} | {r['frames']} x {r['people']} | {r['mpjpe_raw']:.1f} / {r['mpjpe_smoothed']:.1f} | "
            f"{change:+.1f} % | {r['accel_raw']:.1f} / {r['accel_smoothed']:.1f} | "
            f"{r['accel_smoothed'] / r['accel_raw']:.2f} | {r['id_switches']} | "
            f"{r['model_ms']:.1f} / {r['tracking_ms']:.3f} / {r['smoothing_ms']:.3f} |")
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from pmnet_plugin.apis import init_mesh_model
    from pmnet_plugin.apis.export import find_body_model
    from pmnet_plugin.utils.cli import run_with_file_errors

    def run(_):
        os.makedirs(args.out_dir, exist_ok=True)
        model = init_mesh_model(args.config, args.checkpoint, args.device, args.cfg_options)
        body_model = find_body_model(model)
        rows = [evaluate_clip(args, model, body_model, name) for name in args.clips]
        text = report(rows, args)
        with open(osp.join(args.out_dir, 'report.md'), 'w') as f:
            f.write(text)
        with open(osp.join(args.out_dir, 'metrics.json'), 'w') as f:
            json.dump(dict(rows=rows, min_cutoff=args.min_cutoff, beta=args.beta), f, indent=1)
        print(text)
        return 0
    return run_with_file_errors(run, [])


if __name__ == '__main__':
    sys.exit(main())
