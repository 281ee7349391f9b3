"""Images of an evaluation split that cannot be evaluated stop the test with what is wrong with the file.

A test sample cannot be replaced by another one, so an image that OpenCV cannot decode or that is too
small raises :class:`BadTestImageError` naming the file, the sample and the fault (``docs/reliability.md``).
"""
from typing import Any

from pmnet_plugin.utils.input_checks import TINY_IMAGE_SIDE, ImageReadError, read_image

__all__ = ['BadTestImageError', 'load_test_sample']

FIX = 'Replace the image, or remove the sample from the annotation file, then evaluate again.'


class BadTestImageError(ValueError):
    """An image of an evaluation split that cannot be evaluated (names the file and the fault)."""


def load_test_sample(dataset: Any, idx: int) -> dict:
    """``dataset.prepare_data(idx)``, or :class:`BadTestImageError` for an unusable image.

    Args:
        dataset: An ``SMPLImageDataset`` in test mode (``prepare_data``, ``get_data_info``, ``ann_file``).
        idx (int): The sample.

    Returns:
        dict: The pipeline's output.

    Raises:
        BadTestImageError: The image cannot be decoded, or its shorter side is below
            :data:`~pmnet_plugin.utils.input_checks.TINY_IMAGE_SIDE` px.
    """
    try:
        data = dataset.prepare_data(idx)
    except Exception as err:  # noqa: BLE001 - only LoadImage's failure is diagnosed
        if 'occurs when loading' not in str(err):
            raise
        path = dataset.get_data_info(idx)['img_path']
        try:
            read_image(path)
        except ImageReadError as why:
            raise BadTestImageError(f'{dataset.ann_file}: sample {idx}: {why}. {FIX}') from err
        raise
    samples = data.get('data_samples') if isinstance(data, dict) else None
    shape = samples.metainfo.get('ori_shape') if samples is not None else None
    if shape is not None and min(shape[:2]) < TINY_IMAGE_SIDE:
        path = samples.metainfo.get('img_path', '?')
        raise BadTestImageError(
            f'{dataset.ann_file}: sample {idx}: image {path} is only {shape[1]}x{shape[0]} px (below '
            f'{TINY_IMAGE_SIDE} px): no mesh can be recovered from it, but its error would count in the '
            f'metrics. {FIX}')
    return data
