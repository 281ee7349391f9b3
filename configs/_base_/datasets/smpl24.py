"""MMPose dataset metainfo for the 24 SMPL joints (official SMPL order, see docs/design.md).

Used as ``metainfo=dict(from_file='configs/_base_/datasets/smpl24.py')`` by SMPLImageDataset.
``swap`` partners give ``flip_indices`` == constants.SMPL_FLIP_INDICES; skeleton links follow
SMPL_PARENTS. ``sigmas`` are our choice (COCO values for the matching COCO joint, 0.1 for the spine,
0.107 for pelvis/hips as in COCO hips) and only matter for OKS-based metrics.
"""
dataset_info = dict(
    dataset_name='smpl24',
    paper_info=dict(
        author='Loper, Matthew and Mahmood, Naureen and Romero, Javier and Pons-Moll, Gerard and '
        'Black, Michael J.',
        title='SMPL: A Skinned Multi-Person Linear Model',
        container='ACM Transactions on Graphics (Proc. SIGGRAPH Asia)',
        year='2015',
        homepage='https://smpl.is.tue.mpg.de/',
    ),
    keypoint_info={
        0: dict(name='pelvis', id=0, color=[51, 153, 255], type='lower', swap=''),
        1: dict(name='left_hip', id=1, color=[0, 255, 0], type='lower', swap='right_hip'),
        2: dict(name='right_hip', id=2, color=[255, 128, 0], type='lower', swap='left_hip'),
        3: dict(name='spine1', id=3, color=[51, 153, 255], type='lower', swap=''),
        4: dict(name='left_knee', id=4, color=[0, 255, 0], type='lower', swap='right_knee'),
        5: dict(name='right_knee', id=5, color=[255, 128, 0], type='lower', swap='left_knee'),
        6: dict(name='spine2', id=6, color=[51, 153, 255], type='lower', swap=''),
        7: dict(name='left_ankle', id=7, color=[0, 255, 0], type='lower', swap='right_ankle'),
        8: dict(name='right_ankle', id=8, color=[255, 128, 0], type='lower', swap='left_ankle'),
        9: dict(name='spine3', id=9, color=[51, 153, 255], type='upper', swap=''),
        10: dict(name='left_foot', id=10, color=[0, 255, 0], type='lower', swap='right_foot'),
        11: dict(name='right_foot', id=11, color=[255, 128, 0], type='lower', swap='left_foot'),
        12: dict(name='neck', id=12, color=[51, 153, 255], type='upper', swap=''),
        13: dict(name='left_collar', id=13, color=[0, 255, 0], type='upper', swap='right_collar'),
        14: dict(name='right_collar', id=14, color=[255, 128, 0], type='upper', swap='left_collar'),
        15: dict(name='head', id=15, color=[51, 153, 255], type='upper', swap=''),
        16: dict(name='left_shoulder', id=16, color=[0, 255, 0], type='upper', swap='right_shoulder'),
        17: dict(name='right_shoulder', id=17, color=[255, 128, 0], type='upper', swap='left_shoulder'),
        18: dict(name='left_elbow', id=18, color=[0, 255, 0], type='upper', swap='right_elbow'),
        19: dict(name='right_elbow', id=19, color=[255, 128, 0], type='upper', swap='left_elbow'),
        20: dict(name='left_wrist', id=20, color=[0, 255, 0], type='upper', swap='right_wrist'),
        21: dict(name='right_wrist', id=21, color=[255, 128, 0], type='upper', swap='left_wrist'),
        22: dict(name='left_hand', id=22, color=[0, 255, 0], type='upper', swap='right_hand'),
        23: dict(name='right_hand', id=23, color=[255, 128, 0], type='upper', swap='left_hand'),
    },
    skeleton_info={
        0: dict(link=('pelvis', 'left_hip'), id=0, color=[0, 255, 0]),
        1: dict(link=('pelvis', 'right_hip'), id=1, color=[255, 128, 0]),
        2: dict(link=('pelvis', 'spine1'), id=2, color=[51, 153, 255]),
        3: dict(link=('left_hip', 'left_knee'), id=3, color=[0, 255, 0]),
        4: dict(link=('right_hip', 'right_knee'), id=4, color=[255, 128, 0]),
        5: dict(link=('spine1', 'spine2'), id=5, color=[51, 153, 255]),
        6: dict(link=('left_knee', 'left_ankle'), id=6, color=[0, 255, 0]),
        7: dict(link=('right_knee', 'right_ankle'), id=7, color=[255, 128, 0]),
        8: dict(link=('spine2', 'spine3'), id=8, color=[51, 153, 255]),
        9: dict(link=('left_ankle', 'left_foot'), id=9, color=[0, 255, 0]),
        10: dict(link=('right_ankle', 'right_foot'), id=10, color=[255, 128, 0]),
        11: dict(link=('spine3', 'neck'), id=11, color=[51, 153, 255]),
        12: dict(link=('spine3', 'left_collar'), id=12, color=[0, 255, 0]),
        13: dict(link=('spine3', 'right_collar'), id=13, color=[255, 128, 0]),
        14: dict(link=('neck', 'head'), id=14, color=[51, 153, 255]),
        15: dict(link=('left_collar', 'left_shoulder'), id=15, color=[0, 255, 0]),
        16: dict(link=('right_collar', 'right_shoulder'), id=16, color=[255, 128, 0]),
        17: dict(link=('left_shoulder', 'left_elbow'), id=17, color=[0, 255, 0]),
        18: dict(link=('right_shoulder', 'right_elbow'), id=18, color=[255, 128, 0]),
        19: dict(link=('left_elbow', 'left_wrist'), id=19, color=[0, 255, 0]),
        20: dict(link=('right_elbow', 'right_wrist'), id=20, color=[255, 128, 0]),
        21: dict(link=('left_wrist', 'left_hand'), id=21, color=[0, 255, 0]),
        22: dict(link=('right_wrist', 'right_hand'), id=22, color=[255, 128, 0]),
    },
    joint_weights=[1.0] * 24,  # uniform, as in SPIN's keypoint losses
    sigmas=[
        0.107, 0.107, 0.107, 0.1, 0.087, 0.087, 0.1, 0.089, 0.089, 0.1, 0.089, 0.089,
        0.079, 0.079, 0.079, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.062, 0.062,
    ])
