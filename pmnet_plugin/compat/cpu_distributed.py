"""Distributed training/testing with MMEngine's Runner on machines without CUDA (gloo backend).

MMEngine's ``init_dist('pytorch')`` and ``Runner.wrap_model`` assume CUDA; :func:`setup_cpu_distributed`
starts the process group itself and drops DDP's ``device_ids`` (``docs/configs.md``).
"""
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepares ``cfg`` (and the process group) for a torchrun launch without CUDA.

    Only acts when ``cfg.launcher == 'pytorch'`` and CUDA is unavailable; the ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT`` variables that torchrun sets are read by ``init_process_group``.

    Args:
        cfg (Config): The full config (``launcher``, ``env_cfg.dist_cfg``, ``model_wrapper_cfg``,
            ``find_unused_parameters`` are read/updated in place).

    Returns:
        bool: Whether anything was changed.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    if backend != 'gloo':
        print_log(f'setup_cpu_distributed: no CUDA, using the gloo backend instead of {backend}',
                  logger='current')
        backend = 'gloo'
    if not dist.is_initialized():
        timeout = dist_cfg.pop('timeout', None)
        kwargs = {} if timeout is None else dict(timeout=__import__('datetime').timedelta(seconds=timeout))
        dist.init_process_group(backend=backend, **kwargs)
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or dict(type='MMDistributedDataParallel'))
    wrapper.setdefault('device_ids', None)  # a CPU module: DDP takes no device ids
    wrapper.setdefault('broadcast_buffers', False)  # the Runner's own default
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True


def close_distributed() -> None:
    """Ends the default process group, if one is running, after all ranks reach this point."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
