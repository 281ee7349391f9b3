"""RestrictedUnpickler / load_npz: plain data loads, crafted pickles run nothing, damaged files are named."""
import builtins
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from scipy import sparse

from pmnet_plugin.utils.safe_pickle import (DataFileError, UnsafePickleError, load_npz,
                                            restricted_load)


class Payload:
    """Pickles as a call that creates ``marker`` when unpickled (what a crafted data file does)."""

    def __init__(self, marker: str, via: str = 'exec') -> None:
        self.marker, self.via = str(marker), via

    def __reduce__(self):
        code = f'open({self.marker!r}, "w").write("ran")'
        if self.via == 'system':
            return os.system, (f'touch {self.marker}',)
        if self.via == 'eval':
            return builtins.eval, (code, )
        return builtins.exec, (code, )


@pytest.mark.parametrize('protocol', [0, 2, 5])
def test_plain_data_round_trips(protocol):
    data = dict(a=np.arange(6.0).reshape(2, 3), b=[1, (2, 'x')], c={3, 4}, d=frozenset([5]),
                e=np.float32(1.5), f=np.array(['u', 'v']), g=collections.OrderedDict(z=1),
                h=sparse.csc_matrix(np.eye(3)), i=np.array(dict(k=np.ones(2)), dtype=object),
                j=complex(1, 2), k=np.zeros((2, 2), np.float32).T)  # non-contiguous
    out = restricted_load(io.BytesIO(pickle.dumps(data, protocol=protocol)), 'mem')
    np.testing.assert_array_equal(out['a'], data['a'])
    assert out['b'] == [1, (2, 'x')] and out['c'] == {3, 4} and out['d'] == frozenset([5])
    assert out['e'] == np.float32(1.5) and out['e'].dtype == np.float32
    assert out['g'] == collections.OrderedDict(z=1) and out['j'] == complex(1, 2)
    np.testing.assert_array_equal(out['h'].toarray(), np.eye(3))
    np.testing.assert_array_equal(out['i'].item()['k'], np.ones(2))
    np.testing.assert_array_equal(out['k'], np.zeros((2, 2)))


@pytest.mark.parametrize('via', ['exec', 'eval', 'system'])
def test_crafted_pickle_runs_nothing(tmp_path, via):
    marker = tmp_path / f'ran_{via}'
    blob = pickle.dumps({'v_template': Payload(marker, via)}, protocol=2)
    with pytest.raises(UnsafePickleError) as err:
        restricted_load(io.BytesIO(blob), 'crafted.pkl')
    assert not marker.exists()
    name = {'exec': 'builtins.exec', 'eval': 'builtins.eval', 'system': 'posix.system'}[via]
    assert f'"{name}"' in str(err.value) and 'crafted.pkl' in str(err.value)
    assert 'nothing was run' in str(err.value)
    pickle.loads(blob)  # the same bytes with plain pickle: the payload does run
    assert marker.exists()


def test_crafted_npz_object_entry_is_refused(tmp_path):
    marker = tmp_path / 'ran'
    path = str(tmp_path / 'crafted.npz')
    np.savez(path, image_path=np.array(['a.jpg']), smpl=np.array(Payload(marker), dtype=object))
    with pytest.raises(UnsafePickleError, match=r"crafted\.npz \(entry 'smpl'\).*builtins\.exec"):
        load_npz(path)
    assert not marker.exists()


def test_npz_object_entries_load(tmp_path):
    path = str(tmp_path / 'hd.npz')
    smpl = dict(global_orient=np.zeros((2, 3), np.float32), betas=np.ones((2, 10)))
    np.savez_compressed(path, image_path=np.array(['a', 'b']), smpl=np.array(smpl, dtype=object),
                        meta=np.array(dict(gender=['f', 'm']), dtype=object))
    out = load_npz(path)
    assert list(out) == ['image_path', 'smpl', 'meta']
    np.testing.assert_array_equal(out['smpl'].item()['betas'], np.ones((2, 10)))
    assert out['meta'].item()['gender'] == ['f', 'm'] and out['image_path'].tolist() == ['a', 'b']


@pytest.mark.parametrize('content', ['empty', 'truncated', 'random', 'npy', 'pickle'])
def test_damaged_npz_names_file(tmp_path, content):
    good = str(tmp_path / 'good.npz')
    np.savez(good, a=np.arange(1000.0), b=np.array(dict(x=1), dtype=object))
    path = tmp_path / 'bad.npz'
    raw = open(good, 'rb').read()
    payload = dict(empty=b'', truncated=raw[:len(raw) // 2], random=os.urandom(300),
                   pickle=pickle.dumps(Payload(tmp_path / 'ran')))
    if content == 'npy':
        with open(path, 'wb') as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(payload[content])
    with pytest.raises(DataFileError) as err:
        load_npz(str(path), 'a test archive', 'Write it again.')
    msg = str(err.value)
    assert str(path) in msg and 'Write it again.' in msg and 'a test archive' in msg
    assert not (tmp_path / 'ran').exists()
    with pytest.raises(FileNotFoundError, match='missing.npz'):
        load_npz(str(tmp_path / 'missing.npz'))


def test_damaged_member_names_file(tmp_path):
    """A zip whose object member is cut short (the central directory is intact)."""
    good = str(tmp_path / 'good.npz')
    np.savez(good, b=np.array(dict(x=np.arange(100)), dtype=object))
    with zipfile.ZipFile(good) as zin:
        data = zin.read('b.npy')
    path = str(tmp_path / 'cut.npz')
    with zipfile.ZipFile(path, 'w') as zout:
        zout.writestr('b.npy', data[:len(data) - 40])
    with pytest.raises(DataFileError, match=r'cut\.npz.*truncated'):
        load_npz(path)
