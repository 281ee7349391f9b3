"""PM-Net / HMR demo: SMPL meshes for the people in an image, a folder of images, or a video.

Person boxes come from an MMDetection detector (default: RTMDet-tiny, COCO person), from a
COCO-style ``--bbox-file``, or ``--whole-image``. Per image it writes ``<stem>_vis.png``
(skeleton + boxes | mesh overlay | side view), ``<stem>_mesh.png`` (overlay only),
``<stem>.npz`` and ``<stem>.json`` (SMPL pose/betas, cameras, 3D joints, pose rarity and its
percentile, prototype), and with ``--save-mesh`` (or ``--export obj``) one ``<stem>_person<i>.obj`` per person
(``--export glb``: ``.glb``). On a video people are tracked across frames (box IoU) and each track is written
to ``<video>_track<id>.npz``, its SMPL parameters smoothed with ``--smooth`` (One-Euro), and with
``--export bvh`` as a BVH animation ``<video>_track<id>.bvh``. People whose
rarity percentile reaches ``--rare-thr`` are labelled "rare pose (top x %)" on the overlay. With
``--backend onnxruntime`` the second argument is a model exported by ``tools/export_onnx.py --with-smpl``.
See docs/demo.md and docs/deploy.md.

Example:
    python tools/demo.py configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py work_dirs/pmnet/epoch_10.pth \\
        photo.jpg --whole-image --out-dir vis/
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # noqa: E402

from pmnet_plugin.utils.atomic_io import OutputWriteError  # noqa: E402
from pmnet_plugin.utils.atomic_io import atomic_write as _atomic_write  # noqa: E402

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')
logger = logging.getLogger('pmnet_demo')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='mesh model config')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='mesh model checkpoint (omitted: random weights, smoke tests only); '
                   'with --backend onnxruntime: the exported .onnx file')
    p.add_argument('input', help='image file, folder of images, or video file')
    p.add_argument('--out-dir', default='demo_out', help='output folder')
    p.add_argument('--device', default='cpu')
    p.add_argument('--backend', choices=['pytorch', 'onnxruntime'], default='pytorch',
                   help='run the mesh model with PyTorch or ONNX Runtime (docs/deploy.md)')
    p.add_argument('--rare-thr', type=float, default=90.0,
                   help='label people whose rarity percentile among training poses is >= this')
    p.add_argument('--det-config', default='rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
                   help='MMDet config (a file, or relative to mmdet/.mim/configs)')
    p.add_argument('--det-checkpoint', default=None, help='MMDet checkpoint')
    p.add_argument('--det-cat-id', type=int, default=0, help='person category id')
    p.add_argument('--bbox-thr', type=float, default=0.5, help='detection score threshold')
    p.add_argument('--max-persons', type=int, default=10, help='max people per image (<=0: all)')
    p.add_argument('--bbox-file', default=None, help='COCO-style json with person boxes')
    p.add_argument('--whole-image', action='store_true', help='one box = the whole image')
    p.add_argument('--save-mesh', action='store_true', help='write .obj meshes (as --export obj)')
    p.add_argument('--export', nargs='+', choices=['obj', 'glb', 'bvh'], default=[],
                   help='obj/glb: one mesh per person per image; bvh: one animation per track (video)')
    p.add_argument('--track', action=argparse.BooleanOptionalAction, default=None,
                   help='track people across frames and write one file per track (default: on for a video)')
    p.add_argument('--smooth', action='store_true', help='smooth each track over time (One-Euro filter)')
    p.add_argument('--smooth-min-cutoff', type=float, default=0.5, help='One-Euro cutoff at rest, Hz')
    p.add_argument('--smooth-beta', type=float, default=0.7, help='One-Euro speed coefficient')
    p.add_argument('--batch-size', type=int, default=16, help='crops per forward pass')
    p.add_argument('--kpt-thr', type=float, default=0.3)
    p.add_argument('--no-side-view', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    p.add_argument('--strict', action=argparse.BooleanOptionalAction, default=True,
                   help='refuse a mesh checkpoint whose keys/shapes differ from the config (default); '
                   '--no-strict loads what fits, with a warning')
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f'--batch-size must be at least 1, got {args.batch_size}')
    return args


def check_out_dir(out_dir: str) -> None:
    """Raises ``OutputWriteError`` when ``out_dir`` cannot be made or written (creates nothing)."""
    existing = osp.abspath(out_dir)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    reason = (f'{existing} is a file, not a folder' if not osp.isdir(existing) else
              None if os.access(existing, os.W_OK | os.X_OK) else f'{existing} is not writable')
    if reason:
        raise OutputWriteError(f'cannot write --out-dir {out_dir}: {reason} (checked before running, so no work '
                               'is lost). Choose another --out-dir.')


def unique_stems(files: List[str]) -> List[str]:
    """Output names of input files: the stem, or stem and extension (``person_png``) where stems repeat."""
    stems = [osp.splitext(f)[0] for f in files]
    return [s if stems.count(s) == 1 else f'{s}_{osp.splitext(f)[1][1:]}' for s, f in zip(stems, files)]


# ----------------------------------------------------------------------------------- io
def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """:func:`pmnet_plugin.utils.atomic_io.atomic_write` with the demo's advice."""
    _atomic_write(path, write, 'Free disk space or choose another --out-dir.')


def write_image(path: str, rgb: np.ndarray) -> None:
    def _w(tmp):
        if not cv2.imwrite(tmp, np.ascontiguousarray(rgb[..., ::-1])):
            raise IOError(f'OpenCV could not encode or write the image (disk full or no '
                          f'{osp.splitext(path)[1]} encoder)')
    atomic_write(path, _w)


def write_text(path: str, text: str) -> None:
    def _w(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    atomic_write(path, _w)


def write_npz(path: str, arrays: Dict[str, np.ndarray]) -> None:
    def _w(tmp):
        with open(tmp, 'wb') as f:
            np.savez(f, **arrays)
    atomic_write(path, _w)


def obj_text(vertices: np.ndarray, faces: np.ndarray) -> str:
    """Wavefront OBJ of a mesh (V, 3) / (F, 3) 0-based."""
    lines = [f'v {x:.6f} {y:.6f} {z:.6f}' for x, y, z in vertices]
    lines += [f'f {a + 1} {b + 1} {c + 1}' for a, b, c in faces]
    return '\n'.join(lines) + '\n'


def to_uint8_bgr(img: np.ndarray) -> np.ndarray:
    """Any image cv2 reads (gray, BGRA, 16-bit) as BGR (H, W, 3) uint8."""
    from pmnet_plugin.apis.inference import ensure_bgr3
    if img.dtype == np.uint16:
        img = (img / 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return ensure_bgr3(img)


def iter_frames(path: str) -> Tuple[int, Iterator[Tuple[str, Union[str, np.ndarray]]]]:
    """Frames of an image, a folder of images (``mmengine.utils.scandir``) or a video (``mmcv.VideoReader``).

    Returns:
        tuple: number of frames (0 if unknown) and an iterator of ``(stem, frame)``; a frame is an
        image file path (read by the caller with ``read_image``) or a decoded BGR video frame (H, W, 3).
    """
    from mmcv import VideoReader
    from mmengine.utils import scandir
    if osp.isdir(path):
        files = sorted(scandir(path, IMG_EXTS, case_sensitive=False))
        if not files:
            raise ValueError(f'no images ({", ".join(IMG_EXTS)}) in folder {path}')
        return len(files), ((stem, osp.join(path, f)) for stem, f in zip(unique_stems(files), files))
    if not osp.isfile(path):
        raise FileNotFoundError(f'input {path} does not exist')
    ext = osp.splitext(path)[1].lower()
    stem = osp.splitext(osp.basename(path))[0]
    if ext in IMG_EXTS:
        return 1, iter([(stem, path)])
    if ext in VIDEO_EXTS:
        video = VideoReader(path)
        if not video.opened:
            raise ValueError(f'cannot open video {path}')

        def gen():
            with video:  # releases the capture at the end
                for idx, frame in enumerate(video):
                    yield f'{stem}_{idx:06d}', frame
        return len(video), gen()
    raise ValueError(f'unsupported file type {ext!r} for {path}: use an image '
                     f'({", ".join(IMG_EXTS)}), a video ({", ".join(VIDEO_EXTS)}) or a folder')


def load_bbox_file(path: str) -> Dict:
    """Reads COCO-style boxes into ``{key: (N, 5) xyxy+score}``.

    Accepted: a COCO dataset dict (``images`` with ``id``/``file_name`` + ``annotations`` with
    ``image_id``/``bbox`` xywh [``score``, ``category_id``]), or a COCO results list
    (``image_id`` = file name, or frame index for videos / position in the sorted folder).
    Keys are file stems (str) and integer indices; only ``category_id`` 1 (person) is kept.
    Malformed files raise ``ValueError`` naming the file, the place and the expected layout.
    """
    from mmpose.structures.bbox import bbox_xywh2xyxy
    layout = ('expected COCO-style boxes: {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": '
              '[{"image_id": 1, "bbox": [x, y, w, h], "score": 0.9, "category_id": 1}]} or a list '
              '[{"image_id": "a.jpg", "bbox": [x, y, w, h], "score": 0.9}]')
    if not osp.isfile(path):
        raise FileNotFoundError(f'--bbox-file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'--bbox-file {path} is not valid JSON ({err}); {layout}') from err
    try:
        if isinstance(data, dict):
            id2name = {img['id']: img['file_name'] for img in data.get('images', [])}
            anns = data.get('annotations', [])
        elif isinstance(data, list):
            id2name, anns = {}, data
        else:
            raise TypeError(f'the top level is a {type(data).__name__}')
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f'--bbox-file {path}: bad "images" list ({type(err).__name__}: {err}); '
                         f'{layout}') from err
    boxes: Dict = {}
    for i, ann in enumerate(anns):
        try:
            if ann.get('category_id', 1) != 1 or 'bbox' not in ann:
                continue
            key = id2name.get(ann['image_id'], ann['image_id'])
            if isinstance(key, str):
                key = osp.splitext(osp.basename(key))[0]
            if len(ann['bbox']) < 4:
                raise ValueError(f'bbox has {len(ann["bbox"])} values')
            boxes.setdefault(key, []).append([float(v) for v in ann['bbox'][:4]] + [float(ann.get('score', 1.0))])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f'--bbox-file {path}: detection #{i} ({json.dumps(ann)[:120]}) is malformed '
                             f'({type(err).__name__}: {err}); {layout}') from err
    return {k: bbox_xywh2xyxy(np.asarray(v, np.float32).reshape(-1, 5)) for k, v in boxes.items()}


# ------------------------------------------------------------------------------ outputs
def find_faces(model) -> np.ndarray:
    """Triangles (F, 3) of the body model inside the estimator (or of the ONNX Runtime model)."""
    if getattr(model, 'faces', None) is not None:
        return np.asarray(model.faces, np.int64)
    for module in model.modules():
        faces = getattr(module, 'faces', None)
        if faces is not None:
            return np.asarray(faces.cpu() if hasattr(faces, 'cpu') else faces, np.int64)
    raise AttributeError('the model holds no body model with `faces`')


def collect_results(samples, img_shape: Tuple[int, int]) -> Dict[str, np.ndarray]:
    """Stacks the per-person predictions of one image into (N, ...) arrays."""
    from pmnet_plugin.utils.camera import crop_cam_to_full
    from pmnet_plugin.utils.tensor_utils import to_numpy
    keys = ('bboxes', 'bbox_scores', 'smpl_pose', 'smpl_betas', 'cam', 'keypoints',
            'keypoint_scores', 'keypoints_3d', 'vertices', 'rarity', 'rarity_percentile', 'proto_id',
            'proto_score', 'proto_nearest_id', 'proto_nearest_dist', 'input_center', 'input_scale')
    out: Dict[str, List[np.ndarray]] = {}
    for s in samples:
        inst = s.pred_instances
        for k in keys:
            if k in inst:
                out.setdefault(k, []).append(to_numpy(inst.get(k)))
    arrays = {k: np.concatenate(v, axis=0) for k, v in out.items()}
    for key in ('proto_id', 'proto_nearest_id'):
        if key in arrays:
            arrays[key] = np.rint(arrays[key]).astype(np.int64)
    if samples and 'cam' in arrays and 'input_center' in arrays:
        focal, transl = crop_cam_to_full(arrays['cam'], arrays['input_center'],
                                         arrays['input_scale'], img_shape,
                                         samples[0].metainfo.get('input_size', (224, 224)))
        arrays['cam_t_full'] = transl.astype(np.float32)
        arrays['focal_length_full'] = np.float32(focal)
    return arrays


def to_json(stem: str, img_shape, arrays: Dict[str, np.ndarray]) -> str:
    persons = []
    n = len(arrays.get('bboxes', []))
    for i in range(n):
        person = {}
        for k in ('track_id', 'bboxes', 'bbox_scores', 'smpl_pose', 'smpl_betas', 'cam', 'cam_t_full',
                  'keypoints', 'keypoint_scores', 'keypoints_3d', 'rarity', 'rarity_percentile',
                  'proto_id', 'proto_score', 'proto_nearest_id', 'proto_nearest_dist'):
            if k in arrays:
                v = np.asarray(arrays[k][i])
                person[k] = v.item() if v.ndim == 0 else v.tolist()
                if isinstance(person[k], float) and not np.isfinite(person[k]):
                    person[k] = None  # unknown (e.g. no rarity quantiles): JSON null, not NaN
        persons.append(person)
    doc = dict(image=stem, height=int(img_shape[0]), width=int(img_shape[1]),
               focal_length_full=float(arrays.get('focal_length_full', 0.0)),
               num_persons=n, persons=persons)
    return json.dumps(doc, indent=1)


# --------------------------------------------------------------------------------- main
def get_boxes(args, stem: str, index: int, img: np.ndarray, detector, bbox_db) -> np.ndarray:
    """(N, 5) person boxes of one image, clipped to it; dropped ones (NaN, empty) get one warning."""
    from pmnet_plugin.utils.input_checks import drop_invalid_boxes
    h, w = img.shape[:2]
    if args.whole_image:
        boxes = np.array([[0, 0, w, h, 1.0]], np.float32)
    elif bbox_db is not None:
        boxes = bbox_db.get(stem, bbox_db.get(index, np.zeros((0, 5), np.float32)))
        if 0 < args.max_persons < len(boxes):  # keep the best-scored, in file order
            boxes = boxes[np.sort(np.argsort(-boxes[:, 4], kind='stable')[:args.max_persons])]
    else:
        boxes = detector(img, args.bbox_thr, args.max_persons)
    kept, dropped = drop_invalid_boxes(boxes, (h, w))
    if dropped:
        logger.warning(f'{stem}: {dropped}')
    return kept


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    try:
        check_out_dir(args.out_dir)
    except OutputWriteError as e:
        print(f'error: {e}', file=sys.stderr)
        return 3
    from pmnet_plugin.apis import (CheckpointMismatchError, MissingCheckpointError, PersonDetector,
                                   init_mesh_model)
    from pmnet_plugin.prototypes.io import PrototypeFileMismatchError
    from pmnet_plugin.utils.safe_pickle import DataFileError, UnsafePickleError
    from pmnet_plugin.visualization.mesh_visualizer import MeshVisualizer
    try:
        total, frames = iter_frames(args.input)
        bbox_db = load_bbox_file(args.bbox_file) if args.bbox_file else None
        detector = None
        if not args.whole_image and bbox_db is None:
            detector = PersonDetector(args.det_config, args.det_checkpoint, args.device,
                                      cat_id=args.det_cat_id)
    except (MissingCheckpointError, FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.backend == 'onnxruntime':
        from pmnet_plugin.apis import init_onnx_model
        if args.checkpoint is None:
            print('error: --backend onnxruntime needs the exported .onnx file as second argument '
                  '(tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx --with-smpl)', file=sys.stderr)
            return 2
        try:
            model = init_onnx_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
        except (FileNotFoundError, ValueError) as e:  # missing file, or not exported --with-smpl
            print(f'error: {e}', file=sys.stderr)
            return 2
    else:
        if args.checkpoint is None:
            logger.warning('no mesh checkpoint given: the model has RANDOM weights')
        try:
            model = init_mesh_model(args.config, args.checkpoint, args.device, args.cfg_options,
                                    strict=args.strict)
        except (CheckpointMismatchError, DataFileError, FileNotFoundError, UnsafePickleError,
                PrototypeFileMismatchError) as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
    vis = MeshVisualizer(side_view=not args.no_side_view)
    vis.set_dataset_meta(model.dataset_meta)
    faces = find_faces(model)
    vis.set_faces(faces)
    os.makedirs(args.out_dir, exist_ok=True)
    tracks = None
    if args.track or (args.track is None and osp.splitext(args.input)[1].lower() in VIDEO_EXTS):
        from pmnet_plugin.apis.tracking import IoUTracker, TrackRecorder
        tracks = (IoUTracker(), TrackRecorder())
    try:
        done, skipped = process_frames(args, model, vis, faces, frames, total, detector, bbox_db, tracks)
        if tracks is not None:
            write_tracks(args, model, tracks[1])
    except OutputWriteError as e:
        print(f'error: {e}', file=sys.stderr)
        return 3
    logger.info(f'processed {done} image(s), skipped {skipped}; outputs in {args.out_dir}')
    return 0 if done else 1


def write_tracks(args, model, recorder) -> None:
    """Writes ``<input stem>_track<id>.npz`` (and ``.bvh``) per track (``pmnet_plugin.apis.export``)."""
    from pmnet_plugin.apis.export import find_body_model, write_track
    smooth = dict(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta) if args.smooth else None
    stem = osp.splitext(osp.basename(osp.normpath(args.input)))[0]
    tracks, body_model, fps = recorder.tracks(), find_body_model(model), video_fps(args.input)
    for tid, track in tracks.items():
        write_track(osp.join(args.out_dir, f'{stem}_track{tid}'), track, body_model, fps, smooth,
                    bvh='bvh' in args.export)
    logger.info(f'{len(tracks)} track(s) written to {args.out_dir}/{stem}_track*.npz')


def video_fps(path: str) -> float:
    """Frames per second of a video file (30 for images or when the file does not say)."""
    if osp.splitext(path)[1].lower() not in VIDEO_EXTS:
        return 30.0
    capture = cv2.VideoCapture(path)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return float(fps) if fps and fps > 0 else 30.0


def process_frames(args, model, vis, faces, frames, total: int, detector, bbox_db,
                   tracks=None) -> Tuple[int, int]:
    """Runs the model on every frame and writes its outputs; returns (processed, skipped) counts.

    ``tracks`` is ``(IoUTracker, TrackRecorder)``: the people of each frame get a ``track_id`` and are recorded.
    """
    from mmengine.structures import InstanceData
    from mmengine.utils import ProgressBar
    from mmpose.structures import PoseDataSample, merge_data_samples

    from pmnet_plugin.apis import inference_mesh
    from pmnet_plugin.apis.export import write_glb
    from pmnet_plugin.utils.input_checks import ImageReadError, read_image, tiny_image_warning
    from pmnet_plugin.visualization.rarity_label import draw_rarity_labels
    progress = ProgressBar(total) if total > 1 else None
    done = skipped = 0
    input_size = model.cfg.get('codec', {}).get('input_size', (224, 224))
    for index, (stem, frame) in enumerate(frames):
        if progress is not None:
            progress.update()
        try:
            raw = read_image(frame) if isinstance(frame, str) else frame
        except ImageReadError as e:
            logger.warning(f'skipping {stem}: {e}')
            skipped += 1
            continue
        img = to_uint8_bgr(raw)
        tiny = tiny_image_warning(img.shape[:2], input_size, name=stem)
        if tiny:
            logger.warning(tiny)
        boxes = get_boxes(args, stem, index, img, detector, bbox_db)
        samples = inference_mesh(model, img, boxes, batch_size=args.batch_size) \
            if len(boxes) else []
        if not samples:
            logger.warning(f'{stem}: no person box (detector threshold {args.bbox_thr}, '
                           'or none in --bbox-file); writing the image without meshes')
        merged = merge_data_samples(samples) if samples else \
            PoseDataSample(pred_instances=InstanceData())
        rgb = np.ascontiguousarray(img[..., ::-1])
        panels = vis.draw_pred_panels(rgb, merged, args.kpt_thr, draw_bbox=True)
        panels['overlay'] = draw_rarity_labels(panels['overlay'], merged.pred_instances, args.rare_thr)
        row = [panels['keypoints'], panels['overlay']] + \
            ([] if args.no_side_view else [panels['side']])
        base = osp.join(args.out_dir, stem)
        write_image(base + '_vis.png', np.concatenate(row, axis=1))
        write_image(base + '_mesh.png', panels['overlay'])
        arrays = collect_results(samples, img.shape[:2])
        if tracks is not None:
            arrays['track_id'] = tracks[0].update(arrays.get('bboxes', np.zeros((0, 5))))
            tracks[1].add(index, arrays['track_id'], arrays)
        write_npz(base + '.npz', arrays)
        write_text(base + '.json', to_json(stem, img.shape[:2], arrays))
        for i, verts in enumerate(arrays.get('vertices', [])):
            shift = arrays['cam_t_full'][i] if 'cam_t_full' in arrays else 0.0
            if args.save_mesh or 'obj' in args.export:
                write_text(f'{base}_person{i}.obj', obj_text(verts + shift, faces))
            if 'glb' in args.export:
                atomic_write(f'{base}_person{i}.glb', lambda tmp: write_glb(tmp, verts + shift, faces))
        done += 1
    if progress is not None:
        sys.stdout.write('\n')
    return done, skipped


if __name__ == '__main__':
    sys.exit(main())
