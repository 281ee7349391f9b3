"""Acceleration error (VIBE's definition) and identity switches."""
import numpy as np
import pytest

from pmnet_plugin.evaluation.functional import accel_error, id_switches


def test_accel_error():
    t = np.arange(10, dtype=float)
    gt = np.zeros((10, 2, 3))
    gt[:, :, 0] = (t ** 2)[:, None]  # constant acceleration 2 per frame^2
    np.testing.assert_allclose(accel_error(gt + 5.0, gt), 0)  # an offset has no acceleration
    pred = gt.copy()
    pred[4, 0, 1] += 1.0  # one joint off by 1 in one frame: accelerations 1, -2, 1 around it
    err = accel_error(pred, gt)
    assert err.shape == (8,)
    np.testing.assert_allclose(err[2:5], [0.5, 1.0, 0.5])  # mean over the 2 joints
    assert err.sum() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        accel_error(pred[:, :1], gt)


def test_id_switches():
    assert id_switches(np.array([[0, 1], [0, 1], [0, 1]])) == 0
    assert id_switches(np.array([[0, 1], [1, 0], [1, 0]])) == 2  # both swap once
    assert id_switches(np.array([[0], [-1], [0], [2]])) == 1  # a miss is no switch
