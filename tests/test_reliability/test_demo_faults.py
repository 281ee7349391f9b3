"""Faults in tools/demo.py inputs and outputs, each ending in a message that names the file and the fix.

Rows of the bad-input table covered here: 1 (a mismatched checkpoint in tools/demo.py), 7 (a malformed
``--bbox-file``), 9 (a corrupt JPEG), 10 (a 1x1 image, NaN boxes); plus a full disk while the outputs are
written (a per-process file-size limit makes writes fail with EFBIG): no file is left half-written under
its final name. Reliability III cases (``docs/reliability.md``): Q8 ``person.jpg`` and ``person.png`` in one
folder, Q25 ``--batch-size 0``, Q26 an ``--out-dir`` under a file.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_apis'))
import demo  # noqa: E402  (tools/demo.py)
from mesh_model_setup import hmr_config, mesh_config, save_random_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)


@pytest.fixture(scope='module')
def setup(body_model_files, tmp_path_factory):
    """The offline PM-Net config (K=32 placeholders), its checkpoint, an HMR checkpoint, an image."""
    from pmnet_plugin.apis import init_mesh_model
    root = tmp_path_factory.mktemp('demo_faults')
    cfg, hmr_cfg = mesh_config(body_model_files), hmr_config(body_model_files)
    cfg.dump(str(root / 'pmnet.py'))
    torch.manual_seed(0)
    hmr = str(root / 'hmr.pth')  # saved as a Runner saves it: with its config text
    torch.save(dict(state_dict=init_mesh_model(hmr_cfg).state_dict(), meta=dict(cfg=hmr_cfg.pretty_text)),
               hmr)
    img_path = str(root / 'person.jpg')
    cv2.imwrite(img_path, np.random.default_rng(0).integers(0, 255, (96, 64, 3), dtype=np.uint8))
    return dict(cfg=str(root / 'pmnet.py'), hmr=hmr, img_path=img_path,
                ckpt=save_random_checkpoint(init_mesh_model(cfg), str(root / 'pmnet.pth')))


def _run(setup, inp, out_dir, *extra, ckpt=None):
    return demo.main([setup['cfg'], ckpt or setup['ckpt'], str(inp), '--out-dir', str(out_dir),
                      *extra])


def test_row1_demo_refuses_a_mismatched_checkpoint(setup, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _run(setup, setup['img_path'], out, '--whole-image', ckpt=setup['hmr']) == 2
    err = capsys.readouterr().err
    assert f'error: checkpoint {setup["hmr"]} does not fit the model' in err
    assert 'it holds HMRHead (from its stored config)' in err
    assert 'the config builds PrototypeMemoryHead with K=32' in err and '--no-strict' in err
    assert not out.exists()  # nothing computed with a partly random head
    assert _run(setup, setup['img_path'], out, '--whole-image', '--no-strict', ckpt=setup['hmr']) == 0
    assert np.load(out / 'person.npz')['smpl_pose'].shape == (1, 72)  # opted out: it runs


@pytest.mark.parametrize('content, expect', [
    ('{"annotations": [{"image_id": 1, "bbox": [1, 2', r'is not valid JSON \(Expecting'),
    ('[{"image_id": "person.jpg", "bbox": [1, 2, 3]}]', r'detection #0 .* is malformed \(ValueError: '
     r'bbox has 3 values\)'),
    ('{"images": [{"file_name": "a.jpg"}], "annotations": []}', r'bad "images" list \(KeyError'),
    ('"boxes"', r'bad "images" list \(TypeError: the top level is a str\)'),
])
def test_row7_malformed_bbox_file_named(setup, tmp_path, capsys, content, expect):
    bbox_file = tmp_path / 'boxes.json'
    bbox_file.write_text(content)
    assert _run(setup, setup['img_path'], tmp_path / 'out', '--bbox-file', str(bbox_file)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: --bbox-file {bbox_file}')
    assert 'expected COCO-style boxes' in err  # the layout it should have
    import re
    assert re.search(expect, err), err


def test_row9_corrupt_jpeg_named_with_the_fault(setup, tmp_path, caplog):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    good = open(setup['img_path'], 'rb').read()
    (folder / 'good.jpg').write_bytes(good)
    (folder / 'corrupt.jpg').write_bytes(good[:20] + os.urandom(200))  # JPEG header, garbage body
    (folder / 'cut.jpg').write_bytes(good[:len(good) * 2 // 3])  # no end marker
    (folder / 'empty.jpg').write_bytes(b'')
    out = tmp_path / 'out'
    with caplog.at_level('WARNING'):
        assert _run(setup, folder, out, '--whole-image') == 0
    text = caplog.text
    corrupt = str(folder / 'corrupt.jpg')
    assert f'skipping corrupt: image {corrupt} (220 bytes) exists but OpenCV cannot decode it; ' \
           'its header says JPEG' in text
    assert 'Re-export or convert it' in text and 'check file path' not in text
    assert f'image {folder / "empty.jpg"} is empty (0 bytes)' in text
    assert f'image {folder / "cut.jpg"} ({len(good) * 2 // 3} bytes) exists but OpenCV cannot decode ' \
           'it; its header says JPEG: the JPEG has no end marker: the file is truncated' in text
    assert sorted(f for f in os.listdir(out) if f.endswith('.npz')) == ['good.npz']
    caplog.clear()
    assert _run(setup, folder / 'corrupt.jpg', tmp_path / 'one', '--whole-image') == 1  # nothing done
    assert 'cannot decode it' in caplog.text


def test_row10_tiny_image_and_nan_boxes_warn_once(setup, tmp_path, caplog):
    tiny = tmp_path / 'dot.png'
    cv2.imwrite(str(tiny), np.full((1, 1, 3), 128, np.uint8))
    with caplog.at_level('WARNING'):
        assert _run(setup, tiny, tmp_path / 'o1', '--whole-image') == 0
    lines = [r.getMessage() for r in caplog.records if 'dot' in r.getMessage()]
    assert lines == ['dot is only 1x1 px: its crop is upscaled about 96x to the 96x96 network '
                     'input, so the mesh carries little or no information; use images with people '
                     'at least 32 px tall.']
    caplog.clear()
    boxes = [dict(image_id='person.jpg', bbox=[4, 4, 40, 60], score=0.9),
             dict(image_id='person.jpg', bbox=[float('nan'), 4, 40, 60]),
             dict(image_id='person.jpg', bbox=[500, 500, 10, 10])]  # outside the 64x96 image
    bbox_file = tmp_path / 'boxes.json'
    bbox_file.write_text(json.dumps(boxes))  # Python's json writes NaN
    with caplog.at_level('WARNING'):
        assert _run(setup, setup['img_path'], tmp_path / 'o2', '--bbox-file', str(bbox_file)) == 0
    lines = [r.getMessage() for r in caplog.records if 'boxes' in r.getMessage()]
    assert lines == ['person: dropped 2 of 3 person boxes: 1 with NaN/inf values (rows [1]); 1 '
                     'narrower or shorter than 1 px after clipping to the 64x96 image']
    assert np.load(tmp_path / 'o2' / 'person.npz')['bboxes'].shape == (1, 4)


DISK_FULL = '''
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
sys.argv = {argv!r}
runpy.run_path({demo!r}, run_name='__main__')
'''


def test_disk_full_leaves_nothing_half_written(setup, tmp_path):
    out = tmp_path / 'out'
    argv = ['demo.py', setup['cfg'], setup['ckpt'], setup['img_path'], '--whole-image', '--out-dir',
            str(out)]
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    # 60 kB: the two pictures fit, the .npz (vertices: 6890 x 3 float32 = 83 kB) does not
    proc = subprocess.run([sys.executable, '-c', DISK_FULL.format(
        limit=60_000, argv=argv, demo=osp.join(ROOT, 'tools', 'demo.py'))], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr[-3000:]
    npz = osp.join(str(out), 'person.npz')
    assert f'error: cannot write {npz}: File too large' in proc.stderr
    assert 'Nothing was left under that name' in proc.stderr and '--out-dir' in proc.stderr
    names = sorted(os.listdir(out))
    assert names == ['person_mesh.png', 'person_vis.png']  # no temp file, no partial .npz/.json
    for name in names:  # what is there is complete
        assert cv2.imread(str(out / name)) is not None


def test_q8_same_stem_inputs_get_their_own_outputs(setup, tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    img = cv2.imread(setup['img_path'])
    cv2.imwrite(str(folder / 'person.jpg'), img)
    cv2.imwrite(str(folder / 'person.png'), img[:, ::-1])
    out = tmp_path / 'out'
    assert _run(setup, folder, out, '--whole-image') == 0
    assert (out / 'person_jpg.npz').is_file() and (out / 'person_png.npz').is_file()
    assert json.loads((out / 'person_png.json').read_text())['image'] == 'person_png'
    assert demo.unique_stems(['a.jpg', 'b.png']) == ['a', 'b']  # names without a clash stay as they were


def test_q25_batch_size_zero_is_refused_before_work(setup, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _run(setup, setup['img_path'], tmp_path / 'out', '--whole-image', '--batch-size', '0')
    assert exc.value.code == 2 and '--batch-size must be at least 1, got 0' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_q26_out_dir_under_a_file_is_exit_3_before_work(setup, tmp_path, capsys):
    (tmp_path / 'a_file').write_text('x')
    assert _run(setup, setup['img_path'], tmp_path / 'a_file' / 'out', '--whole-image') == 3
    err = capsys.readouterr().err
    assert f'error: cannot write --out-dir {tmp_path / "a_file" / "out"}: {tmp_path / "a_file"} is a file' in err
