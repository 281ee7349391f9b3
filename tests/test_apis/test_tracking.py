"""IoU tracking across frames and the per-track record."""
import numpy as np

from pmnet_plugin.apis.tracking import IoUTracker, TrackRecorder, box_iou


def test_box_iou():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]], atol=1e-6)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_ids_follow_boxes_given_in_any_order():
    tracker = IoUTracker(iou_thr=0.3, max_age=2)
    left, right = np.array([0, 0, 10, 20.]), np.array([30, 0, 40, 20.])
    assert tracker.update(np.stack([left, right])).tolist() == [0, 1]
    shift = np.array([1, 0, 1, 0.])
    assert tracker.update(np.stack([right + shift, left + shift])).tolist() == [1, 0]  # swapped order
    assert tracker.update(np.stack([left + 2 * shift])).tolist() == [0]  # right is missed ...
    assert tracker.update(np.stack([right, left])).tolist() == [1, 0]  # ... and comes back within max_age
    for _ in range(3):
        tracker.update(np.stack([left]))
    assert tracker.update(np.stack([right, left])).tolist() == [2, 0]  # gone for longer: a new id
    assert tracker.update(np.zeros((0, 4))).tolist() == []


def test_recorder_stacks_each_track_in_frame_order():
    rec = TrackRecorder(keys=('smpl_pose', 'bboxes'))
    rec.add(0, np.array([5, 7]), dict(smpl_pose=np.ones((2, 72)), bboxes=np.zeros((2, 5))))
    rec.add(2, np.array([7]), dict(smpl_pose=2 * np.ones((1, 72)), bboxes=np.zeros((1, 5))))
    tracks = rec.tracks()
    assert sorted(tracks) == [5, 7]
    assert tracks[7]['frame'].tolist() == [0, 2]
    assert tracks[7]['smpl_pose'].shape == (2, 72) and tracks[7]['smpl_pose'][1, 0] == 2
    assert list(rec.tracks(min_length=2)) == [7]
