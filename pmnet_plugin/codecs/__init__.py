from .smpl_label import SMPLLabelCodec

__all__ = ['SMPLLabelCodec']
