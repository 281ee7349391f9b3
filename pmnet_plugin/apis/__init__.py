"""Inference APIs: build a mesh estimator, run it on person boxes, detect people (MMDet), ONNX."""
from .checkpoint import (CheckpointMismatchError, check_checkpoint_fits, load_model_checkpoint,
                         read_checkpoint)
from .detection import (DEFAULT_DET_CONFIG, MissingCheckpointError, PersonDetector, checkpoint_url,
                        mmdet_config_path)
from .inference import (crop_cam_to_full, crop_cam_to_image, crop_data, inference_mesh,
                        init_mesh_model)
from .onnx_backend import (MeshExportModule, OnnxMeshModel, OnnxMeshSession, compare_outputs,
                           export_onnx, init_onnx_model)

__all__ = [
    'init_mesh_model', 'inference_mesh', 'crop_data', 'crop_cam_to_image', 'crop_cam_to_full',
    'PersonDetector', 'MissingCheckpointError', 'checkpoint_url', 'mmdet_config_path',
    'DEFAULT_DET_CONFIG', 'CheckpointMismatchError', 'check_checkpoint_fits', 'load_model_checkpoint',
    'read_checkpoint', 'MeshExportModule', 'export_onnx', 'compare_outputs', 'OnnxMeshSession',
    'OnnxMeshModel', 'init_onnx_model'
]
