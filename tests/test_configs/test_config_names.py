"""Config names follow MMPose's rule: ``{algorithm}_{backbone}_{training}_{data}.py``, ``-`` inside a part."""
import os
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ENTRY_CONFIGS = {'pmnet_res50.py', 'hmr_res50.py'}  # the short names over the real-data configs
PART = r'[a-z0-9]+(?:-[a-z0-9]+)*'
RULE = re.compile(rf'^{PART}_{PART}_{PART}_{PART}\.py$')


def test_every_config_name_has_four_parts():
    names = [n for n in os.listdir(osp.join(ROOT, 'configs')) if n.endswith('.py')]
    assert len(names) > 10
    wrong = [n for n in names if n not in ENTRY_CONFIGS and not RULE.match(n)]
    assert not wrong, f'not {{algorithm}}_{{backbone}}_{{training}}_{{data}}.py: {wrong}'
    assert ENTRY_CONFIGS <= set(names)
