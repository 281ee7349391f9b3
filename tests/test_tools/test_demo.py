"""tools/demo.py end to end on generated images: bbox file, whole image, detector, bad input."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
sys.path.insert(0, osp.join(REPO, 'tools'))
import demo  # noqa: E402
from mesh_model_setup import (demo_setup, random_person_detector,  # noqa: E402
                              save_random_checkpoint)

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

BOX = (40, 30, 120, 190)  # where the body is drawn (x1, y1, x2, y2) in the 160 x 200 image


@pytest.fixture(scope='module')
def setup(body_model_files, tmp_path_factory):
    return demo_setup(body_model_files, tmp_path_factory.mktemp('demo'), BOX)


def _run(setup, inp, out_dir, *extra):
    return demo.main([setup['cfg'], setup['ckpt'], str(inp), '--out-dir', str(out_dir),
                      *extra])


def _mesh_pixels(out_dir, stem, img):
    overlay = cv2.imread(osp.join(out_dir, f'{stem}_mesh.png'))
    assert overlay.shape == img.shape
    return (np.abs(overlay.astype(int) - img.astype(int)).max(-1) > 0)


def test_bbox_file_outputs(setup, tmp_path):
    h, w = setup['img'].shape[:2]
    x1, y1, x2, y2 = BOX
    coco = dict(images=[dict(id=7, file_name='person.png')], annotations=[
        dict(image_id=7, bbox=[x1, y1, x2 - x1, y2 - y1], category_id=1, score=0.9),
        dict(image_id=7, bbox=[w - 30, -20, 80, 60], category_id=1),   # clipped
        dict(image_id=7, bbox=[w + 10, 10, 40, 40], category_id=1),    # outside: skipped
        dict(image_id=7, bbox=[0, 0, 50, 50], category_id=3)])         # not a person
    bbox_file = tmp_path / 'boxes.json'
    bbox_file.write_text(json.dumps(coco))
    out = tmp_path / 'out'
    assert _run(setup, setup['img_path'], out, '--bbox-file', str(bbox_file), '--save-mesh') == 0
    arrays = np.load(out / 'person.npz')
    assert arrays['bboxes'].shape == (2, 4) and arrays['bbox_scores'].shape == (2,)
    np.testing.assert_allclose(arrays['bboxes'][1], [w - 30, 0, w, 40])
    np.testing.assert_allclose(arrays['bbox_scores'], [0.9, 1.0])
    assert arrays['smpl_pose'].shape == (2, 72) and arrays['smpl_betas'].shape == (2, 10)
    assert arrays['cam'].shape == (2, 3) and arrays['cam_t_full'].shape == (2, 3)
    assert arrays['keypoints_3d'].shape == (2, 24, 3) and arrays['keypoints'].shape == (2, 24, 2)
    assert arrays['proto_id'].shape == (2,) and arrays['proto_score'].shape == (2,)
    doc = json.loads((out / 'person.json').read_text())
    assert doc['num_persons'] == 2 and len(doc['persons'][0]['smpl_pose']) == 72
    assert isinstance(doc['persons'][0]['proto_id'], int)
    vis = cv2.imread(str(out / 'person_vis.png'))
    assert vis.shape == (h, 3 * w, 3)
    mesh = _mesh_pixels(out, 'person', setup['img'])
    inside = mesh[y1:y2, x1:x2].sum()
    assert inside > 300, 'the mesh should be drawn inside the person box'
    obj = (out / 'person_person0.obj').read_text().splitlines()
    assert sum(line.startswith('v ') for line in obj) == 6890
    assert not [f for f in os.listdir(out) if f.startswith('.')], 'temp files left behind'


def test_whole_image_folder_with_bad_files(setup, tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    img = setup['img']
    cv2.imwrite(str(folder / 'gray.png'), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / 'rgba.png'), cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    (folder / 'broken.jpg').write_bytes(b'not an image')
    (folder / 'notes.txt').write_text('ignored')
    out = tmp_path / 'out'
    assert _run(setup, folder, out, '--whole-image') == 0
    for stem in ('gray', 'rgba'):
        assert np.load(out / f'{stem}.npz')['vertices'].shape == (1, 6890, 3)
        assert _mesh_pixels(out, stem, img).sum() > 300
    assert not (out / 'broken.npz').exists()


def test_detector_boxes_and_zero_detections(setup, tmp_path):
    det_cfg = str(tmp_path / 'det.py')
    det = random_person_detector(det_cfg)
    det_ckpt = save_random_checkpoint(det.model, str(tmp_path / 'det.pth'))
    out = tmp_path / 'out'
    common = ['--det-config', det_cfg, '--det-checkpoint', det_ckpt, '--max-persons', '2']
    assert _run(setup, setup['img_path'], out, *common, '--bbox-thr', '0.3') == 0
    arrays = np.load(out / 'person.npz')
    assert 1 <= len(arrays['bboxes']) <= 2 and arrays['vertices'].shape[1:] == (6890, 3)
    out0 = tmp_path / 'none'
    assert _run(setup, setup['img_path'], out0, *common, '--bbox-thr', '1.01') == 0
    doc = json.loads((out0 / 'person.json').read_text())
    assert doc['num_persons'] == 0 and doc['persons'] == []
    np.testing.assert_array_equal(cv2.imread(str(out0 / 'person_mesh.png')), setup['img'])


def test_video_input(setup, tmp_path):
    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             setup['img'].shape[1::-1])
    for _ in range(3):
        writer.write(setup['img'])
    writer.release()
    out = tmp_path / 'out'
    assert _run(setup, video, out, '--whole-image') == 0
    assert sorted(f for f in os.listdir(out) if f.endswith('.npz')) == [
        'clip_000000.npz', 'clip_000001.npz', 'clip_000002.npz', 'clip_track0.npz']  # one person, one track


def test_clear_errors(setup, tmp_path, capsys):
    assert _run(setup, setup['img_path'], tmp_path / 'o') == 2  # no detector checkpoint
    err = capsys.readouterr().err
    assert 'rtmdet_tiny_8xb32-300e_coco' in err and 'https://download.openmmlab.com' in err
    assert '--bbox-file' in err and '--whole-image' in err
    txt = tmp_path / 'a.txt'
    txt.write_text('x')
    assert _run(setup, txt, tmp_path / 'o', '--whole-image') == 2
    assert 'unsupported file type' in capsys.readouterr().err
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert _run(setup, empty, tmp_path / 'o', '--whole-image') == 2
    assert 'no images' in capsys.readouterr().err
