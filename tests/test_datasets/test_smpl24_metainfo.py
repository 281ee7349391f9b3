"""configs/_base_/datasets/smpl24.py agrees with the body-model constants."""
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from pmnet_plugin.datasets import SMPL24_METAINFO_FILE
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
