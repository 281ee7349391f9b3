"""Per-channel multiplicative colour noise (SPIN's ``pn``)."""
from typing import Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomChannelNoise(BaseTransform):
    """Multiply each colour channel by a factor drawn from U(1 - noise, 1 + noise), clip to [0, 255].

    SPIN (Kolotouros et al. 2019) uses ``noise_factor=0.4`` on every training sample.

    Required Keys: img. Modified Keys: img.

    Args:
        noise_factor (float): Half-width of the uniform range. Defaults to 0.4.
        prob (float): Probability to apply. Defaults to 1.0.
    """

    def __init__(self, noise_factor: float = 0.4, prob: float = 1.0) -> None:
        super().__init__()
        if not 0. <= noise_factor < 1. or not 0. <= prob <= 1.:
            raise ValueError(f'noise_factor in [0, 1) and prob in [0, 1] expected, got '
                             f'{noise_factor}, {prob}')
        self.noise_factor = noise_factor
        self.prob = prob

    def transform(self, results: Dict) -> Dict:
        """Apply the noise to ``results['img']`` (H, W, C)."""
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        pn = np.random.uniform(1 - self.noise_factor, 1 + self.noise_factor, img.shape[-1])
        pn = pn.astype(np.float32)
        if img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] in (1, 3):
            # the same products, looked up per channel instead of computed per pixel
            table = np.clip(np.arange(256, dtype=np.float32)[:, None] * pn, 0, 255).astype(np.uint8)
            results['img'] = cv2.LUT(img, table.reshape(256, 1, -1)).reshape(img.shape)
            return results
        out = np.clip(img.astype(np.float32) * pn, 0, 255)
        results['img'] = out.astype(img.dtype) if img.dtype == np.uint8 else out
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(noise_factor={self.noise_factor}, prob={self.prob})'
