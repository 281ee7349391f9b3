"""Faults in data files: crafted pickles run nothing, damaged files and bad keys name the file and the fix.

Rows of the bad-input table covered here: 2 (crafted SMPL .pkl), 3 (crafted HumanData .npz, at dataset
build), 5 (truncated / empty / random-bytes SMPL .pkl and .npz), 8 (``image_path`` shorter than the labels).
"""
import os
import pickle

import numpy as np
import pytest

from pmnet_plugin.datasets.humandata import AnnotationError, read_annotations
from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
from pmnet_plugin.utils.safe_pickle import DataFileError, UnsafePickleError


class WriteMarker:
    """Unpickling this calls ``exec`` and creates ``marker`` (a crafted file's ``__reduce__``)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("code ran")', )


def _humandata(n: int = 4, **overrides) -> dict:
    rng = np.random.default_rng(0)
    smpl = dict(global_orient=rng.normal(0, .3, (n, 3)).astype(np.float32),
                body_pose=rng.normal(0, .2, (n, 23, 3)).astype(np.float32),
                betas=np.zeros((n, 10), np.float32))
    arrays = dict(image_path=np.array([f'imgs/{i}.jpg' for i in range(n)]),
                  bbox_xywh=np.tile(np.array([[4., 4., 36., 40., 1.]], np.float32), (n, 1)),
                  smpl=np.array(smpl, dtype=object),
                  meta=np.array(dict(clip=np.array(['a'] * n)), dtype=object))
    arrays.update(overrides)
    return arrays


def test_row2_crafted_smpl_pickle_runs_nothing(tmp_path, body_model_files):
    arrays = load_smpl_model_file(body_model_files['model_path_npz'])
    marker = tmp_path / 'pwned'
    path = tmp_path / 'SMPL_NEUTRAL.pkl'
    with open(path, 'wb') as f:
        pickle.dump(dict(arrays, bs_style=WriteMarker(marker)), f, protocol=2)
    with pytest.raises(UnsafePickleError) as err:
        load_smpl_model_file(str(path))
    assert not marker.exists()
    msg = str(err.value)
    assert str(path) in msg and '"builtins.exec"' in msg and 'official source' in msg


def test_row3_crafted_humandata_runs_nothing_at_dataset_build(tmp_path):
    from mmpose.registry import DATASETS

    import pmnet_plugin  # noqa: F401  (registers SMPLImageDataset)
    marker = tmp_path / 'pwned'
    ann = tmp_path / 'train.npz'
    np.savez(ann, **_humandata(meta=np.array(WriteMarker(marker), dtype=object)))
    (tmp_path / 'imgs').mkdir()
    dataset = DATASETS.build(dict(type='SMPLImageDataset', ann_file=str(ann),
                                  data_prefix=dict(img=str(tmp_path)), lazy_init=True))
    with pytest.raises(UnsafePickleError, match=r"train\.npz \(entry 'meta'\).*builtins\.exec"):
        dataset.full_init()
    assert not marker.exists()
    good = tmp_path / 'good.npz'  # the same layout without the payload loads
    np.savez(good, **_humandata())
    assert read_annotations(str(good))['smpl_pose'].shape == (4, 72)


def _damaged(tmp_path, good: str, kind: str) -> str:
    raw = open(good, 'rb').read()
    content = dict(truncated=raw[:len(raw) // 3], empty=b'', random=os.urandom(2048))[kind]
    path = tmp_path / f'{kind}{os.path.splitext(good)[1]}'
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize('kind', ['truncated', 'empty', 'random'])
@pytest.mark.parametrize('fmt', ['model_path', 'model_path_npz'])
def test_row5_damaged_smpl_file_named(tmp_path, body_model_files, kind, fmt):
    path = _damaged(tmp_path, body_model_files[fmt], kind)
    with pytest.raises(DataFileError) as err:
        load_smpl_model_file(path)
    msg = str(err.value)
    assert msg.startswith(f'{path}: cannot read an SMPL model')
    assert ('empty file' in msg) == (kind == 'empty')
    assert 'smpl.is.tue.mpg.de' in msg and 'make_synthetic_smpl.py' in msg  # how to get a good copy


@pytest.mark.parametrize('kind', ['truncated', 'empty', 'random'])
def test_row5_damaged_annotation_file_named(tmp_path, kind):
    good = str(tmp_path / 'ann.npz')
    np.savez(good, **_humandata(n=64))
    path = _damaged(tmp_path, good, kind)
    with pytest.raises(DataFileError, match=rf'{path}: cannot read a HumanData or SPIN \.npz.*'
                       'make_synthetic_dataset.py'):
        read_annotations(path)


def test_row8_short_image_path_is_blamed(tmp_path):
    path = str(tmp_path / 'ann.npz')
    arrays = _humandata(n=5)
    np.savez(path, **dict(arrays, image_path=arrays['image_path'][:3]))
    with pytest.raises(AnnotationError) as err:
        read_annotations(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: key 'image_path': has 3 entries")
    assert 'bbox_xywh (5 rows)' in msg and 'one image per sample' in msg
    spin = str(tmp_path / 'spin.npz')  # the same rule for SPIN's imgname
    np.savez(spin, imgname=np.array(['a.jpg'] * 2), center=np.zeros((4, 2)), scale=np.ones(4))
    with pytest.raises(AnnotationError, match=r"key 'imgname': has 2 entries.*center \(4 rows\)"):
        read_annotations(spin)
