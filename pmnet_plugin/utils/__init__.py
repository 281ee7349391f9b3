from .rotation import (average_quaternions, axis_angle_to_matrix, axis_angle_to_quaternion,
                       matrix_to_axis_angle, matrix_to_quaternion, matrix_to_rot6d,
                       quaternion_to_axis_angle, quaternion_to_matrix, rot6d_to_matrix,
                       standardize_quaternion)

__all__ = [
    'axis_angle_to_matrix', 'matrix_to_axis_angle', 'rot6d_to_matrix', 'matrix_to_rot6d',
    'quaternion_to_matrix', 'matrix_to_quaternion', 'axis_angle_to_quaternion',
    'quaternion_to_axis_angle', 'average_quaternions', 'standardize_quaternion'
]
from .tensor_utils import to_numpy  # noqa
