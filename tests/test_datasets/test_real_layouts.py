"""Files in the exact layouts of MMHuman3D / SPIN: every labelled joint supervises, under its own name.

The start-up numbers are those of ``SMPLImageDataset.supervision`` (logged by the dataset); the values
are checked joint by joint against what the writers put into the files (``tests/real_layouts.py``).
"""
import numpy as np
import pytest
from real_layouts import (write_h36m, write_mpi_inf_3dhp, write_pw3d, write_spin_converted,
                          write_spin_npz)

from pmnet_plugin.datasets import AnnotationError, MixedSMPLDataset, SMPLImageDataset
from pmnet_plugin.datasets.keypoint_conventions import (HUMAN_DATA_KEYPOINTS,
                                                        MMHUMAN3D_H36M_TO_SPIN,
                                                        MPI_INF_3DHP_KEYPOINTS,
                                                        OPENPOSE_25_KEYPOINTS)
from pmnet_plugin.datasets.supervision import format_report

HD = {n: i for i, n in enumerate(HUMAN_DATA_KEYPOINTS)}


def _dataset(truth, **kwargs):
    kwargs.setdefault('joint_set', 'human_data')
    return SMPLImageDataset(ann_file=truth['path'], **kwargs)


def _assert_values(ds, truth, names2d, names3d, root_names):
    """Every labelled joint sits at its own name's slot with the file's value (3D relative to the root)."""
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        for j, name in enumerate(truth['names2d']):
            if name in names2d:
                np.testing.assert_allclose(info['keypoints'][0, HD[name]], truth['keypoints'][i, j], atol=1e-5)
                assert info['keypoints_visible'][0, HD[name]] == 1, name
        assert (info['keypoints_visible'][0] > 0).sum() == len(names2d)
        root_ids = [truth['names3d'].index(r) for r in root_names]
        root = truth['keypoints_3d'][i, root_ids].mean(0)
        for j, name in enumerate(truth['names3d']):
            if name in names3d:
                np.testing.assert_allclose(info['keypoints_3d'][0, HD[name]], truth['keypoints_3d'][i, j] - root,
                                           atol=1e-5)
        assert (info['keypoints_3d_visible'][0] > 0).sum() == len(names3d)
        expected_root = np.zeros(len(HD))
        expected_root[[HD[r] for r in root_names]] = 1. / len(root_names)
        np.testing.assert_allclose(info['keypoints_3d_root'][0], expected_root)
        assert info['joint_set'] == 'human_data'


def test_h36m_compressed_humandata(tmp_path):
    truth = write_h36m(str(tmp_path))
    ds = _dataset(truth)
    sup = ds.supervision
    assert (sup['labelled_2d'], sup['supervised_2d'], sup['labelled_3d'], sup['supervised_3d']) == (17,) * 4
    assert sup['smpl'] == 1 and not sup['unsupervised_2d'] and not sup['unsupervised_3d']
    _assert_values(ds, truth, truth['names2d'], truth['names3d'], ['pelvis_extra'])
    info = ds.get_data_info(1)
    np.testing.assert_allclose(info['smpl_pose'][0, 3:], truth['smpl']['body_pose'][1].ravel(), atol=1e-6)
    report = format_report('h36m', truth['path'], len(ds), 'human_data', sup)
    assert '2D 17.0 of 17.0 labelled joints supervised, 3D 17.0 of 17.0, SMPL parameters 1.00' in report


def test_h36m_with_spin_definitions(tmp_path):
    truth = write_h36m(str(tmp_path))
    ds = _dataset(truth, rename_keypoints=MMHUMAN3D_H36M_TO_SPIN)
    info = ds.get_data_info(0)
    j9, j10 = truth['names3d'].index('head_extra'), truth['names3d'].index('headtop')
    np.testing.assert_allclose(info['keypoints_3d'][0, HD['jaw_extra']], truth['keypoints_3d'][0, j9], atol=1e-6)
    np.testing.assert_allclose(info['keypoints_3d'][0, HD['head_extra']], truth['keypoints_3d'][0, j10], atol=1e-6)
    assert info['keypoints_3d_visible'][0, HD['headtop']] == 0 and ds.supervision['supervised_3d'] == 17


def test_h36m_in_smpl_joint_set_is_an_error(tmp_path):
    """The SMPL-24 set holds 10 of H36M's joints and none of its roots: 3D would reach no loss."""
    truth = write_h36m(str(tmp_path))
    with pytest.raises(AnnotationError, match="key 'keypoints3d'.*root joint") as err:
        _dataset(truth, joint_set='smpl')
    assert truth['path'] in str(err.value) and "joint_set='human_data'" in str(err.value)


def test_mpi_inf_3dhp_28_joints(tmp_path):
    truth = write_mpi_inf_3dhp(str(tmp_path))
    ds = _dataset(truth)
    only_3dhp = [n for n in MPI_INF_3DHP_KEYPOINTS if n.endswith('_3dhp')]
    sup = ds.supervision
    assert (sup['labelled_2d'], sup['supervised_2d'], sup['labelled_3d'], sup['supervised_3d']) == \
        (28, 21, 28, 21)
    assert sorted(sup['unsupervised_3d']['no regression source on the mesh']) == sorted(only_3dhp)
    assert list(sup['unsupervised_3d']) == ['no regression source on the mesh']
    kept = [n for n in MPI_INF_3DHP_KEYPOINTS if n not in only_3dhp]
    _assert_values(ds, truth, kept, kept, ['pelvis_extra'])


@pytest.mark.parametrize('writer', [write_spin_converted, write_spin_npz])
def test_spin_layouts(tmp_path, writer):
    truth = writer(str(tmp_path))
    ds = _dataset(truth)
    sup = ds.supervision
    # 17 GT joints + 25 OpenPose detections labelled; detections weigh 0 (SPIN's openpose_train_weight)
    assert (sup['labelled_2d'], sup['supervised_2d'], sup['labelled_3d'], sup['supervised_3d']) == \
        (42, 17, 17, 17)
    assert sup['unsupervised_2d'] == {'OpenPose detections, openpose_weight=0': OPENPOSE_25_KEYPOINTS}
    _assert_values(ds, truth, truth['names2d'], truth['names3d'], ['pelvis_extra'])
    with_op = _dataset(truth, openpose_weight=0.5)
    assert with_op.supervision['supervised_2d'] == 42
    info = with_op.get_data_info(2)
    np.testing.assert_allclose(info['keypoints'][0, HD['nose_openpose']], truth['openpose'][2, 0, :2])
    np.testing.assert_allclose(info['keypoints_visible'][0, HD['nose_openpose']],
                               0.5 * truth['openpose'][2, 0, 2], rtol=1e-6)


def test_pw3d_gender_and_smpl(tmp_path):
    truth = write_pw3d(str(tmp_path))
    ds = _dataset(truth, test_mode=True)
    assert ds.supervision['smpl'] == 1 and ds.supervision['labelled_2d'] == 0
    assert [ds.get_data_info(i)['gender'] for i in range(4)] == ['m', 'f', 'm', 'f']
    np.testing.assert_allclose(ds.get_data_info(3)['smpl_betas'][0], truth['smpl']['betas'][3], atol=1e-6)


def test_smpl_key_without_labels_is_an_error(tmp_path, hd_writer):
    path = hd_writer(str(tmp_path), images=False, has_smpl=np.zeros(6, np.float32))
    with pytest.raises(AnnotationError, match="key 'smpl'.*has_smpl is 0"):
        SMPLImageDataset(ann_file=path)


def test_mix_needs_one_joint_set(tmp_path):
    h36m = _dataset(write_h36m(str(tmp_path)))
    smpl = SMPLImageDataset(ann_file=write_pw3d(str(tmp_path))['path'], joint_set='smpl')
    with pytest.raises(ValueError, match='different joint sets'):
        MixedSMPLDataset([h36m, smpl], [.5, .5])
    mix = MixedSMPLDataset([h36m, _dataset(write_spin_npz(str(tmp_path)))], [.5, .5], num_samples=8)
    assert mix.metainfo['num_keypoints'] == 190
