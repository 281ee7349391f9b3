"""tools/plot_rarity.py overlays the JSONs PoseRarity writes."""
import json

import numpy as np
import pytest
from tool_loader import load_tool


def _tool():
    return load_tool('plot_rarity')


def _write(path, errors, rarity, rarity_kind='mesh'):
    samples = [dict(id=i, rarity=float(r), MPJPE=None if e is None else float(e))
               for i, (r, e) in enumerate(zip(rarity, errors))]
    path.write_text(json.dumps(dict(model_name=path.stem, rarity=rarity_kind, rarity_label='rarity (mm)',
                                    metrics=['MPJPE'], samples=samples)))
    return str(path)


def test_two_models_one_plot(tmp_path, capsys):
    rarity = np.linspace(0, 100, 50)
    a = _write(tmp_path / 'rarity_hmr.json', 60 + rarity, rarity)
    b = _write(tmp_path / 'rarity_pmnet.json', [None] + list(60 + 0.3 * rarity[1:]), rarity)
    out = tmp_path / 'plot.png'
    _tool().main([a, b, '--out', str(out), '--bins', '10', '--labels', 'HMR', 'PM-Net'])
    assert out.stat().st_size > 5000
    text = capsys.readouterr().out
    assert 'HMR: mean MPJPE 110.00 mm over 50 samples' in text and 'over 49 samples' in text


def test_mismatched_or_bad_files(tmp_path):
    tool = _tool()
    a = _write(tmp_path / 'a.json', [1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    b = _write(tmp_path / 'b.json', [1.0, 2.0], [0.0, 1.0])
    c = _write(tmp_path / 'c.json', [1.0, 2.0, 3.0], [0.0, 1.0, 2.0], rarity_kind='knn')
    with pytest.raises(ValueError, match='do not match'):
        tool.load_curves([a, b], None, 'MPJPE')
    assert len(tool.load_curves([a, b], None, 'MPJPE', allow_mismatch=True)) == 2
    with pytest.raises(ValueError, match='different rarity'):
        tool.load_curves([a, c], None, 'MPJPE')
    with pytest.raises(ValueError, match='labels'):
        tool.load_curves([a], ['x', 'y'], 'MPJPE')
    with pytest.raises(ValueError, match='PVE'):
        tool.load_curves([a], None, 'PVE')
    empty = tmp_path / 'e.json'
    empty.write_text(json.dumps(dict(samples=[])))
    with pytest.raises(ValueError, match='no samples'):
        tool.load_curves([str(empty)], None, 'MPJPE')
