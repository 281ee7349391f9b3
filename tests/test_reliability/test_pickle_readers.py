"""No code runs from any data file: every reader of pickled data goes through ``safe_pickle``.

A scan of the source (``pmnet_plugin/``, ``tools/``, ``configs/``) lists every call that reads a file and
could unpickle (``np.load(allow_pickle=True)``, ``pickle.load``, ``torch.load`` without
``weights_only=True``, MMEngine's ``load``, PyYAML's full loader, ...) and fails on any outside
``pmnet_plugin/utils/safe_pickle.py``. Crafted files are then fed to the tools and readers that used to
run them: the offline split reader of ``tools/contact_sheet.py`` / ``tools/overlay_sheet.py``, prototype
files and ``bbox_file`` pickles.
"""
import ast
import os
import os.path as osp
import sys
from typing import List

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCANNED = ('pmnet_plugin', 'tools', 'configs')
ALLOWED_FILE = osp.join('pmnet_plugin', 'utils', 'safe_pickle.py')
SAFE_READERS = ('load_npz', 'restricted_load', 'load_data_file', 'RestrictedUnpickler')
# functions that unpickle (or construct arbitrary objects) whatever the arguments
ALWAYS_UNSAFE = {
    'pickle.load', 'pickle.loads', 'pickle.Unpickler', 'cPickle.load', 'cPickle.loads', 'dill.load',
    'dill.loads', 'joblib.load', 'pandas.read_pickle', 'pd.read_pickle', 'marshal.load', 'marshal.loads',
    'shelve.open', 'mmengine.load', 'mmengine.fileio.load', 'mmcv.load', 'yaml.unsafe_load',
    'yaml.full_load', 'np.lib.format.read_array', 'numpy.lib.format.read_array',
}
NUMPY_LOADS = {'np.load', 'numpy.load'}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return '.'.join([node.id] + parts[::-1])
    return ''


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def unsafe_reads(source: str, filename: str = '<string>') -> List[str]:
    """``'<file>:<line> <call>'`` for every call in ``source`` that may unpickle from a file."""
    tree = ast.parse(source, filename)
    imported = {}  # local name -> dotted origin ('load' -> 'mmengine.fileio.load')
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f'{node.module}.{alias.name}'
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head = name.split('.')[0]
        if head in imported:
            name = imported[head] + name[len(head):]
        unsafe = name in ALWAYS_UNSAFE
        if name in NUMPY_LOADS:
            flag = _keyword(node, 'allow_pickle')
            unsafe = flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False)
        elif name == 'torch.load':
            flag = _keyword(node, 'weights_only')
            unsafe = not (isinstance(flag, ast.Constant) and flag.value is True)
        elif name == 'yaml.load':
            loader = _keyword(node, 'Loader')
            unsafe = not (loader is not None and _dotted(loader).endswith(('SafeLoader', 'CSafeLoader')))
        if unsafe:
            found.append(f'{filename}:{node.lineno} {name}')
    return found


def _sources():
    for top in SCANNED:
        for folder, _, names in os.walk(osp.join(ROOT, top)):
            for name in sorted(names):
                if name.endswith('.py'):
                    path = osp.join(folder, name)
                    with open(path) as f:
                        yield osp.relpath(path, ROOT), f.read()


def test_scanner_finds_each_kind_of_unsafe_read():
    snippet = '\n'.join([
        'import pickle, torch, yaml', 'import numpy as np', 'from mmengine.fileio import load',
        'np.load(p, allow_pickle=True)', 'pickle.load(f)', 'torch.load(p)', 'load(p)',
        'yaml.load(f, Loader=yaml.Loader)',
        # safe forms
        'np.load(p)', 'np.load(p, allow_pickle=False)', 'torch.load(p, weights_only=True)',
        'yaml.load(f, Loader=yaml.SafeLoader)', 'json.load(f)'])
    found = [line.split(' ', 1)[1] for line in unsafe_reads(snippet)]
    assert found == ['np.load', 'pickle.load', 'torch.load', 'mmengine.fileio.load', 'yaml.load']


def test_every_reader_of_pickled_data_goes_through_safe_pickle():
    unsafe, readers = [], set()
    for rel, source in _sources():
        if rel == ALLOWED_FILE:
            continue
        unsafe += unsafe_reads(source, rel)
        if any(f'{name}(' in source for name in SAFE_READERS):
            readers.add(rel)
    assert unsafe == [], 'reads that could run code from a file: ' + '; '.join(unsafe)
    # the readers of .npz object entries / .pkl files, each through the restricted unpickler
    assert {osp.join('pmnet_plugin', *p.split('/')) for p in (
        'models/body_models/smpl_io.py', 'datasets/humandata.py', 'datasets/smpl_image_dataset.py',
        'prototypes/io.py', 'synthetic/synth_dataset.py')} <= readers


class RunsCommand:
    """Unpickling this calls ``os.system`` (a crafted file's ``__reduce__``)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def _crafted_split(tmp_path, key: str) -> str:
    """A HumanData split whose ``key`` entry pickles an ``os.system`` call."""
    n = 2
    arrays = dict(image_path=np.array([f'images/{i:06d}.jpg' for i in range(n)]),
                  bbox_xywh=np.ones((n, 5), np.float32), keypoints2d=np.zeros((n, 24, 3), np.float32),
                  smpl=np.array(dict(betas=np.zeros((n, 10))), dtype=object),
                  meta=np.array(dict(clip=np.array(['walk'] * n), is_rare=np.zeros(n, bool)), dtype=object))
    arrays[key] = np.array(RunsCommand(tmp_path / 'pwned'), dtype=object)
    path = str(tmp_path / 'evil.npz')
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize('key', ['meta', 'smpl'])
def test_contact_sheet_refuses_a_crafted_split(tmp_path, error_line, key):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import contact_sheet

    from pmnet_plugin.utils.cli import run_with_file_errors
    path = _crafted_split(tmp_path, key)
    out = tmp_path / 's.png'
    assert run_with_file_errors(contact_sheet.main, [path, '--out', str(out)]) == 2
    err = error_line()
    assert err.startswith(f"error: {path} (entry '{key}'): refused to load \"posix.system\"")
    assert 'nothing was run' in err
    assert not (tmp_path / 'pwned').exists() and not out.exists()


def test_overlay_sheet_refuses_a_crafted_split(tmp_path, error_line):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import overlay_sheet

    from pmnet_plugin.utils.cli import run_with_file_errors
    path = _crafted_split(tmp_path, 'meta')
    argv = [path, '--models', 'cfg.py=ckpt.pth', '--out', str(tmp_path / 'o.png')]
    assert run_with_file_errors(overlay_sheet.main, argv) == 2
    assert f"error: {path} (entry 'meta'): refused to load" in error_line()
    assert not (tmp_path / 'pwned').exists()


def test_prototype_files_crafted_or_damaged_are_named(tmp_path):
    from pmnet_plugin.prototypes.io import load_prototypes
    from pmnet_plugin.utils.safe_pickle import DataFileError, UnsafePickleError
    good = dict(pose_rot6d=np.zeros((2, 24, 6), np.float32), betas=np.zeros((2, 10), np.float32),
                cam=np.zeros((2, 3), np.float32))
    crafted = str(tmp_path / 'protos_evil.npz')
    np.savez(crafted, **good, source=np.array(RunsCommand(tmp_path / 'pwned'), dtype=object))
    with pytest.raises(UnsafePickleError, match=rf"^{crafted} \(entry 'source'\): refused to load"):
        load_prototypes(crafted)
    assert not (tmp_path / 'pwned').exists()

    plain_object = str(tmp_path / 'protos_object.npz')  # harmless, but not what a prototype file holds
    np.savez(plain_object, **good, source=np.array({'a': 1}, dtype=object))
    with pytest.raises(DataFileError, match=rf"^{plain_object}: entries \['source'\] hold Python objects"):
        load_prototypes(plain_object)

    truncated = str(tmp_path / 'protos_truncated.npz')
    np.savez(truncated, **good)
    raw = open(truncated, 'rb').read()
    with open(truncated, 'wb') as f:
        f.write(raw[:len(raw) // 2])
    with pytest.raises(DataFileError, match=rf'^{truncated}: cannot read a prototype file .*'
                       'build_prototypes.py'):
        load_prototypes(truncated)


def test_pickled_bbox_file_runs_nothing_at_dataset_build(tmp_path):
    import pickle

    from mmpose.registry import DATASETS

    import pmnet_plugin  # noqa: F401  (registers SMPLImageDataset)
    from pmnet_plugin.utils.safe_pickle import UnsafePickleError
    n = 2
    ann = str(tmp_path / 'test.npz')
    np.savez(ann, image_path=np.array([f'imgs/{i}.jpg' for i in range(n)]),
             bbox_xywh=np.tile(np.array([[4., 4., 36., 40., 1.]], np.float32), (n, 1)),
             smpl=np.array(dict(global_orient=np.zeros((n, 3)), body_pose=np.zeros((n, 23, 3)),
                                betas=np.zeros((n, 10))), dtype=object))
    dets = str(tmp_path / 'dets.pkl')
    with open(dets, 'wb') as f:
        pickle.dump([dict(img_path='imgs/0.jpg', bbox=[4, 4, 36, 40], score=RunsCommand(tmp_path / 'pwned'))],
                    f)
    dataset = DATASETS.build(dict(type='SMPLImageDataset', ann_file=ann, bbox_file=dets, test_mode=True,
                                  data_prefix=dict(img=str(tmp_path)), lazy_init=True))
    with pytest.raises(UnsafePickleError, match=rf'^{dets}: refused to load "posix.system"'):
        dataset.full_init()
    assert not (tmp_path / 'pwned').exists()
