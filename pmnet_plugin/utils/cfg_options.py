"""``--cfg-options`` checked before the run: malformed tokens and keys that exist nowhere in the config.

MMEngine merges any key: ``default_hooks.checkpoint.intervall=1`` (a typo) trains to the end and fails at the
first save, and ``train_cfg.max_iters 5`` (a space for ``=``) fails with "not enough values to unpack".
:class:`CfgOptionsAction` names the token that is not ``key=value``; :func:`check_cfg_option_keys` refuses a
key that is not in the config, naming the nearest existing key. A new key is accepted where it is an
explicit constructor argument of its parent's ``type`` (e.g. ``model.head.num_prototypes``), a Runner
argument at the top level, a ``DataLoader`` argument of a ``*_dataloader``, or a ``randomness`` argument.
"""
import difflib
import inspect
from typing import Iterator, List, Optional, Set

from mmengine.config import DictAction

__all__ = ['ArgumentCheckError', 'CfgOptionsAction', 'check_cfg_option_keys']

_REGISTRIES = ('MODELS', 'HOOKS', 'METRICS', 'EVALUATORS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS',
               'VISUALIZERS', 'VISBACKENDS', 'OPTIM_WRAPPERS', 'OPTIMIZERS', 'PARAM_SCHEDULERS', 'LOOPS',
               'KEYPOINT_CODECS', 'LOG_PROCESSORS', 'WEIGHT_INITIALIZERS')


class ArgumentCheckError(ValueError):
    """A command-line argument or config value is out of range, malformed or names nothing (exit 2, before
    any work)."""


class CfgOptionsAction(DictAction):
    """MMEngine's ``DictAction`` that names the token which is not ``key=value``."""

    def __call__(self, parser, namespace, values, option_string=None):
        for i, token in enumerate(values):
            key = token.split('=', 1)[0]
            if '=' in token and key:
                continue
            nxt = values[i + 1] if i + 1 < len(values) else None
            hint = (f' (did you mean {token}={nxt}?)' if key and nxt is not None and '=' not in nxt else '')
            parser.error(f'{option_string}: {token!r} is not a key=value pair{hint}; write each setting as '
                         'key=value with no spaces around "=", e.g. train_cfg.max_iters=5')
        super().__call__(parser, namespace, values, option_string)


def _keys(node, prefix: str = '') -> Iterator[str]:
    """Every dotted key of a config (list items by index)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, (list, tuple)) else ()
    for k, v in items:
        key = f'{prefix}{k}'
        yield key
        yield from _keys(v, key + '.')


def _lookup(cfg, parts: List[str]):
    node = cfg
    for p in parts:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, (list, tuple)) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            return None, False
    return node, True


def _params(obj) -> Set[str]:
    """Names of the explicit parameters of a class's constructor (``**kwargs`` not counted)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return set()
    return {n for n, p in sig.parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _type_params(type_name) -> Optional[Set[str]]:
    """Constructor parameters of a registered ``type`` (name or class), or None when it is not found."""
    if not isinstance(type_name, str):
        return _params(type_name) if inspect.isclass(type_name) else None
    from mmpose import registry
    for name in _REGISTRIES:
        reg = getattr(registry, name, None)
        try:
            cls = reg.get(type_name) if reg is not None else None
        except Exception:  # a scope prefix of a package that is not installed
            cls = None
        if cls is not None:
            return _params(cls)
    return None


def _accepts_new(cfg, parts: List[str]) -> bool:
    """Whether a key absent from the config is still a known argument of its parent."""
    if len(parts) == 1:
        from mmengine.runner import Runner
        return parts[0] in _params(Runner)
    if len(parts) == 2 and parts[0].endswith('_dataloader'):
        from torch.utils.data import DataLoader
        return parts[1] in _params(DataLoader)
    if len(parts) == 2 and parts[0] == 'randomness':
        from mmengine.runner import Runner
        return parts[1] in _params(Runner.set_randomness)
    parent, found = _lookup(cfg, parts[:-1])
    if not found or not isinstance(parent, dict):
        return False
    known = _type_params(parent['type']) if 'type' in parent else None
    return known is not None and parts[-1] in known


def check_cfg_option_keys(cfg, options: dict) -> None:
    """Raises :class:`ArgumentCheckError` for a ``--cfg-options`` key that the config does not have.

    Args:
        cfg (mmengine.Config): The config the options will be merged into.
        options (dict): Parsed ``--cfg-options`` (dotted key -> value).
    """
    cfg = getattr(cfg, '_cfg_dict', cfg)  # an mmengine Config wraps its ConfigDict
    for key in options:
        parts = key.split('.')
        if _lookup(cfg, parts)[1] or _accepts_new(cfg, parts):
            continue
        nearest = difflib.get_close_matches(key, list(_keys(cfg)), n=1, cutoff=0.6)
        near = f'; the nearest existing key is {nearest[0]}' if nearest else ''
        raise ArgumentCheckError(
            f'--cfg-options: key {key!r} exists nowhere in the config{near}. A typo would be ignored or fail '
            'late; fix the key, or add --allow-new-cfg-keys if the key is meant to be new.')
