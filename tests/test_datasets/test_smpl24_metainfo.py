"""configs/_base_/datasets/smpl24.py and the 'smpl' keypoint convention agree with the body-model constants."""
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from pmnet_plugin.datasets import SMPL24_METAINFO_FILE, get_keypoint_names
from pmnet_plugin.models.body_models.constants import (SMPL_FLIP_INDICES, SMPL_JOINT_NAMES,
                                                       SMPL_PARENTS)


def test_metainfo_matches_constants():
    meta = parse_pose_metainfo(dict(from_file=SMPL24_METAINFO_FILE))
    assert meta['num_keypoints'] == 24
    assert [meta['keypoint_id2name'][i] for i in range(24)] == SMPL_JOINT_NAMES
    assert meta['flip_indices'] == SMPL_FLIP_INDICES
    links = {tuple(sorted(link)) for link in meta['skeleton_links']}
    assert links == {tuple(sorted((c, p))) for c, p in enumerate(SMPL_PARENTS) if p >= 0}
    assert len(meta['sigmas']) == 24 and meta['upper_body_ids'] and meta['lower_body_ids']


def test_mmhuman3d_smpl_convention_follows_constants():
    names = get_keypoint_names('smpl')
    assert [n.replace('_', '') for n in names] == [n.replace('_', '') for n in SMPL_JOINT_NAMES]
    assert names[3:10:3] == ['spine_1', 'spine_2', 'spine_3']  # MMHuman3D's spelling of spine1..3
    assert set(names) - set(SMPL_JOINT_NAMES) == {'spine_1', 'spine_2', 'spine_3'}
