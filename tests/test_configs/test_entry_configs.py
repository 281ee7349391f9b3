"""The short entry configs users type: the real-data configs themselves, and a clear stop without the files."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENTRIES = [('configs/pmnet_res50.py', 'configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py', 'PrototypeMemoryHead'),
           ('configs/hmr_res50.py', 'configs/hmr_res50_1xb64-200k_spin-mix-224x224.py', 'HMRHead')]


@pytest.mark.parametrize('entry,full,head', ENTRIES)
def test_entry_is_the_full_config(entry, full, head):
    short, long = Config.fromfile(osp.join(ROOT, entry)), Config.fromfile(osp.join(ROOT, full))
    assert short.model.head.type == head
    assert short.to_dict() == long.to_dict()


def test_required_files_pass_when_present(tmp_path, monkeypatch):
    from pmnet_plugin.datasets.required_files import check_required_files, required_files
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pmnet_res50.py'))
    monkeypatch.chdir(tmp_path)
    files = required_files(cfg, 'train')
    assert 'data/body_models/smpl/SMPL_NEUTRAL.pkl' in [f[0] for f in files]
    assert 'data/preprocessed_datasets/spin_pw3d_test.npz' in [f[0] for f in files]
    for path, what, _ in files:
        if what.endswith('image folder'):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(osp.dirname(path), exist_ok=True)
            open(path, 'w').close()
    check_required_files(cfg, 'train')
    os.remove('data/body_models/smpl_mean_params.npz')
    with pytest.raises(FileNotFoundError, match='smpl_mean_params.npz.*\n.*spin/data.tar.gz'):
        check_required_files(cfg, 'train')


@pytest.mark.slow
@pytest.mark.parametrize('entry', ['configs/pmnet_res50.py', 'configs/hmr_res50.py'])
def test_train_without_the_real_files_stops_with_exit_2(entry, tmp_path):
    """As typed in a checkout with no data/: exit 2 before anything is built, each file and its source named."""
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools/train.py'), osp.join(ROOT, entry)],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    err = proc.stderr
    assert 'error: ' in err and 'Traceback' not in err
    for name in ('data/body_models/smpl/SMPL_NEUTRAL.pkl', 'https://smpl.is.tue.mpg.de',
                 'data/preprocessed_datasets/h36m_mosh_train.npz', 'docs/datasets.md'):
        assert name in err
    assert ('data/prototypes/prototypes_k32.npz' in err) == ('pmnet' in entry)
    work_dir = tmp_path / 'work_dirs' / osp.splitext(osp.basename(entry))[0]
    assert not work_dir.exists() or not list(work_dir.iterdir())  # stopped before the Runner wrote its logs
