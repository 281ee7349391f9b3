"""The wheel works from any directory: it carries the configs and the code finds them without a checkout."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import cv2
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
from mesh_model_setup import synthetic_person_image  # noqa: E402

pytestmark = pytest.mark.slow  # builds and installs a wheel (make test-fast leaves it out)

# run with PYTHONPATH=<install target>, from a folder outside the checkout
SCRIPT = textwrap.dedent('''
    import json, os, sys
    import numpy as np
    import pmnet_plugin
    from mmengine.config import Config
    from pmnet_plugin.apis import inference_mesh, init_mesh_model
    from pmnet_plugin.apis.inference import smpl24_metainfo
    from pmnet_plugin.datasets import SMPL24_METAINFO_FILE
    from pmnet_plugin.utils.paths import config_path
    files = json.loads(sys.argv[1])
    cfg = Config.fromfile(config_path('pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'))
    cfg.merge_from_dict({'model.head.body_model.model_path': files['model_path'],
                         'model.head.body_model.joint_regressor_h36m': files['h36m_regressor'],
                         'model.head.mean_params': files['mean_params'],
                         'model.head.prototype_file': None, 'model.head.rarity_file': None})
    model = init_mesh_model(cfg)
    samples = inference_mesh(model, files['image'])
    inst = samples[0].pred_instances
    print(json.dumps(dict(package=pmnet_plugin.__file__, config=cfg.filename, metainfo=SMPL24_METAINFO_FILE,
                          num_keypoints=len(smpl24_metainfo()['keypoint_id2name']), cwd=os.getcwd(),
                          vertices=list(np.shape(inst.vertices)), finite=bool(np.isfinite(inst.vertices).all()))))
''')


def test_wheel_installed_elsewhere_runs_inference(tmp_path, body_model_files):
    # build from a copy of the sources, so that the checkout gets no build/ folder
    src = tmp_path / 'src'
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'data', 'outputs', 'work_dirs', 'build', '*.egg-info', '__pycache__', '.mim'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '.', '--no-deps', '--no-build-isolation', '-q',
                    '-w', str(tmp_path / 'dist')], cwd=src, check=True, timeout=600)
    wheels = list((tmp_path / 'dist').glob('pmnet_plugin-*.whl'))
    assert len(wheels) == 1
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(target),
                    str(wheels[0])], check=True, timeout=600)
    assert (target / 'pmnet_plugin' / '.mim' / 'configs' / '_base_' / 'datasets' / 'smpl24.py').is_file()

    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    image = str(tmp_path / 'person.png')
    cv2.imwrite(image, synthetic_person_image(body_model_files))
    files = {k: body_model_files[k] for k in ('model_path', 'h36m_regressor', 'mean_params')}
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, '-c', SCRIPT, json.dumps(dict(files, image=image))],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ('package', 'config', 'metainfo'):
        assert out[key].startswith(str(target)), (key, out[key])  # the installed copy, not the checkout
    assert out['cwd'] == str(elsewhere)
    assert out['num_keypoints'] == 24
    assert out['vertices'] == [1, 6890, 3] and out['finite']
