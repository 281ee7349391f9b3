"""Collapse diagnostics: spread ratio, constant baseline, selector accuracy."""
import numpy as np
import pytest

from pmnet_plugin.analysis.learning_diagnostics import (constant_baseline_mpjpe, selector_accuracy,
                                                        spread_ratio)
from pmnet_plugin.evaluation.functional import per_sample_mpjpe


def test_spread_ratio_separates_a_collapsed_model():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(50, 24, 3))
    assert spread_ratio(gt, gt) == pytest.approx(1.0)
    collapsed = np.broadcast_to(gt.mean(0, keepdims=True), gt.shape) + 0.01 * rng.normal(size=gt.shape)
    assert spread_ratio(collapsed, gt) < 0.05


def test_constant_baseline_is_the_best_constant():
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(40, 5, 3))
    best = constant_baseline_mpjpe(gt)
    other = np.broadcast_to(gt[:1], gt.shape)
    assert best == pytest.approx(float(per_sample_mpjpe(np.broadcast_to(gt.mean(0, keepdims=True), gt.shape),
                                                        gt).mean()))
    assert best < float(per_sample_mpjpe(other, gt).mean())


def test_selector_accuracy_and_chance_levels():
    out = selector_accuracy(np.array([0, 1, 1, 3]), np.array([0, 1, 2, 1]), num_prototypes=4)
    assert out == dict(accuracy=0.5, chance_uniform=0.25, chance_majority=0.5)
    with pytest.raises(ValueError):
        selector_accuracy(np.array([0, 1]), np.array([0]), 4)
