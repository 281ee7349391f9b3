"""Procedural image backgrounds (no photographs, so no licence questions): a two-colour gradient, a
"floor" band, low-frequency colour noise, random shapes and optional pixel noise / blur."""
from typing import Sequence, Tuple

import cv2
import numpy as np


def random_color(rng: np.random.Generator, sat: Tuple[float, float] = (0.1, 0.8),
                 val: Tuple[float, float] = (0.2, 0.95)) -> np.ndarray:
    """Random RGB colour in [0, 1] from uniform hue and the given saturation / value ranges.

    Returns:
        np.ndarray: (3,) float64.
    """
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64) / 255.0


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    c0, c1 = random_color(rng), random_color(rng)
    return c0[None, None] * (1 - ramp[..., None]) + c1[None, None] * ramp[..., None]


def _shapes(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    height, width = img.shape[:2]
    for _ in range(count):
        layer = img.copy()
        color = tuple(float(c) for c in random_color(rng) * 255)
        kind = rng.integers(4)
        p0 = (int(rng.integers(-width // 4, width)), int(rng.integers(-height // 4, height)))
        if kind == 0:
            p1 = (p0[0] + int(rng.integers(10, width // 2)), p0[1] + int(rng.integers(10, height // 2)))
            cv2.rectangle(layer, p0, p1, color, -1)
        elif kind == 1:
            cv2.circle(layer, p0, int(rng.integers(5, width // 4)), color, -1, cv2.LINE_AA)
        elif kind == 2:
            p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(layer, p0, p1, color, int(rng.integers(1, 8)), cv2.LINE_AA)
        else:
            axes = (int(rng.integers(5, width // 3)), int(rng.integers(5, height // 3)))
            cv2.ellipse(layer, p0, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        opacity = rng.uniform(0.3, 1.0)
        cv2.addWeighted(layer, opacity, img, 1 - opacity, 0, dst=img)


def make_background(rng: np.random.Generator, size: Sequence[int]) -> np.ndarray:
    """A random procedural background.

    Args:
        rng (np.random.Generator): random generator.
        size (Sequence[int]): ``(W, H)`` in px.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    width, height = int(size[0]), int(size[1])
    img = _gradient(rng, height, width)
    if rng.random() < 0.5:  # floor: a different gradient below a horizon
        horizon = int(rng.uniform(0.4, 0.8) * height)
        img[horizon:] = _gradient(rng, height - horizon, width)
    grid = rng.uniform(-1, 1, size=(int(rng.integers(2, 9)), int(rng.integers(2, 9)), 3)).astype(np.float32)
    img = img + rng.uniform(0.0, 0.25) * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    _shapes(img, rng, int(rng.integers(1, 9)))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 3.0)))
    if rng.random() < 0.3:
        return img
    noise = rng.standard_normal(size=img.shape, dtype=np.float32) * rng.uniform(1, 10)
    return np.clip(img + noise, 0, 255).astype(np.uint8)
