"""A procedural human in the exact file format of the official SMPL model (for tests and offline runs).

Parts around an SMPL-ordered rest skeleton are meshed to 6890 vertices / 13776 faces, skinned, and given
joint regressors, shape directions and gendered variants; the steps are in ``docs/data.md``.
"""
import os
import os.path as osp
import pickle
from typing import Dict, List, Tuple

import numpy as np

from pmnet_plugin.models.body_models.constants import (KINTREE_ROOT_PARENT, NUM_SMPL_FACES,
                                                       NUM_SMPL_JOINTS, NUM_SMPL_VERTICES,
                                                       SMPL_JOINT_NAMES, SMPL_PARENTS)
from .body_layout import (GENDER_BETAS, Primitive, body_primitives, extra_targets, face_landmarks,
                          h36m_targets, rest_joints, vertex_landmarks)

__all__ = ['make_synthetic_smpl', 'build_synthetic_smpl_arrays', 'check_closed_genus0']


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (Quilez): blends the two surfaces within distance ``k``."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _sdf_grid(prims: List[Primitive], voxel: float) -> Tuple[np.ndarray, np.ndarray]:
    """Smooth union of the parts' SDFs on a regular grid (exact near the surface, 1.0 far from it)."""
    margin = 3 * voxel + max(p.blend for p in prims)
    los, his = zip(*(p.bounds(margin) for p in prims))
    lo, hi = np.min(los, axis=0) - voxel, np.max(his, axis=0) + voxel
    shape = np.ceil((hi - lo) / voxel).astype(int) + 1
    field = np.full(shape, 1.0, dtype=np.float64)
    for prim in prims:
        plo, phi = prim.bounds(margin)
        i0 = np.floor((plo - lo) / voxel).astype(int)
        i1 = np.ceil((phi - lo) / voxel).astype(int) + 1
        axes = [lo[d] + voxel * np.arange(i0[d], i1[d]) for d in range(3)]
        pts = np.stack(np.meshgrid(*axes, indexing='ij'), axis=-1)
        sl = tuple(slice(i0[d], i1[d]) for d in range(3))
        field[sl] = _smin(field[sl], prim.sdf(pts), prim.blend)
    return field, lo


def _edges(faces: np.ndarray) -> np.ndarray:
    return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def check_closed_genus0(verts: np.ndarray, faces: np.ndarray) -> None:
    """Raises ``RuntimeError`` unless the mesh is one closed, consistently oriented, genus-0 surface."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    directed = _edges(faces)
    if len(np.unique(directed, axis=0)) != len(directed):
        raise RuntimeError('mesh is non-manifold or inconsistently oriented (repeated directed edge)')
    undirected = np.unique(np.sort(directed, axis=1), axis=0)
    if 2 * len(undirected) != len(directed):
        raise RuntimeError('mesh is not closed (an edge has a single face)')
    euler = len(verts) - len(undirected) + len(faces)
    adj = coo_matrix((np.ones(len(undirected)), tuple(undirected.T)), shape=(len(verts), ) * 2)
    n_comp = connected_components(adj, directed=False)[0]
    if n_comp != 1 or euler != 2:
        raise RuntimeError(f'mesh has {n_comp} components and Euler characteristic {euler} (need 1 and 2)')


def _split_longest_edges(verts: np.ndarray, faces: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Splits the ``count`` longest edges at their midpoints (+1 vertex, +2 faces each, closed mesh)."""
    verts, faces = verts.copy(), faces.copy()
    for _ in range(count):
        e = _edges(faces)
        lens = np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1)
        a, b = e[int(np.argmax(lens))]
        m = len(verts)
        verts = np.vstack([verts, 0.5 * (verts[a] + verts[b])])
        new = []
        for fi in np.nonzero(((faces == a) | (faces == b)).sum(1) == 2)[0]:
            f = list(faces[fi])
            # Rotate so the face reads (x, y, c) with {x, y} = {a, b}.
            while f[2] in (a, b):
                f = f[1:] + f[:1]
            x, y, c = f
            faces[fi] = (x, m, c)
            new.append((m, y, c))
        faces = np.vstack([faces, np.asarray(new, dtype=faces.dtype)])
    return verts, faces


def _mesh_from_field(field: np.ndarray, lo: np.ndarray, voxel: float) -> Tuple[np.ndarray, np.ndarray]:
    """Marching cubes + decimation to exactly 6890 vertices / 13776 outward-oriented faces."""
    try:
        import fast_simplification
        from skimage.measure import marching_cubes
    except ImportError as err:
        raise ImportError(f'the procedural body needs scikit-image and fast_simplification ({err}); '
                          'install them with `pip install scikit-image fast_simplification`') from err
    verts, faces, _, _ = marching_cubes(field, level=0.0, spacing=(voxel, ) * 3)
    verts = verts + lo
    faces = faces.astype(np.int64)
    for slack in (0, 40, 200):
        target = NUM_SMPL_FACES - slack
        try:
            v, f = fast_simplification.simplify(verts, faces, target_count=target, agg=5.0)
        except TypeError:  # fast_simplification < 0.1.7 has no target_count
            v, f = fast_simplification.simplify(verts, faces, target_reduction=1.0 - target / len(faces), agg=5.0)
        used = np.unique(f)
        remap = np.full(len(v), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        v, f = v[used], remap[f].astype(np.int64)
        if len(f) <= NUM_SMPL_FACES and len(f) % 2 == 0:
            break
    v, f = _split_longest_edges(v, f, (NUM_SMPL_FACES - len(f)) // 2)
    tri = v[f]
    volume = np.einsum('ij,ij->i', tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    if volume < 0:
        f = f[:, [0, 2, 1]]
    check_closed_genus0(v, f)
    if (len(v), len(f)) != (NUM_SMPL_VERTICES, NUM_SMPL_FACES):
        raise RuntimeError(f'decimation gave {len(v)} vertices / {len(f)} faces')
    return v, f


def _vertex_neighbours_mean(values: np.ndarray, faces: np.ndarray, num_v: int) -> np.ndarray:
    from scipy.sparse import coo_matrix
    e = _edges(faces)
    adj = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(num_v, num_v)).tocsr()
    adj = adj + adj.T
    adj.data[:] = 1.0
    return (adj @ values) / np.asarray(adj.sum(1))


def _skinning(verts: np.ndarray, faces: np.ndarray, prims: List[Primitive],
              tau: float = 0.012) -> Tuple[np.ndarray, np.ndarray]:
    """Soft part membership (V, P) and SMPL skinning weights (V, 24): top-4 joints, rows sum to one."""
    d = np.stack([p.sdf(verts) for p in prims], axis=1)
    logits = -(d - d.min(1, keepdims=True)) / tau
    soft = np.exp(logits)
    soft /= soft.sum(1, keepdims=True)
    owner = np.zeros((len(prims), NUM_SMPL_JOINTS))
    owner[np.arange(len(prims)), [SMPL_JOINT_NAMES.index(p.joint) for p in prims]] = 1.0
    w = soft @ owner
    for _ in range(3):
        w = 0.5 * w + 0.5 * _vertex_neighbours_mean(w, faces, len(verts))
    keep = np.argsort(-w, axis=1)[:, :4]
    out = np.zeros_like(w)
    np.put_along_axis(out, keep, np.take_along_axis(w, keep, 1), 1)
    out[out < 1e-4] = 0.0
    return soft, out / out.sum(1, keepdims=True)


def _solve_regressor(verts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Sparse non-negative-ish weights (N, V), rows summing to 1, with ``W @ verts == targets`` exactly."""
    reg = np.zeros((len(targets), len(verts)))
    for j, t in enumerate(targets):
        dist = np.linalg.norm(verts - t, axis=1)
        order = np.argsort(dist)
        dmin = dist[order[0]]
        idx = order[:400][dist[order[:400]] <= 2.2 * dmin + 1e-3]
        w0 = np.exp(-(dist[idx] / dmin)**2)
        w0 /= w0.sum()
        support = np.ones(len(idx), dtype=bool)
        for _ in range(50):
            a = np.vstack([verts[idx[support]].T, np.ones(support.sum())])
            dw = w0[support]
            lam = np.linalg.solve((a * dw) @ a.T, np.append(t, 1.0) - a @ dw)
            w = dw + dw * (a.T @ lam)
            if w.min() >= 0 or support.sum() <= 8:
                break
            support[np.nonzero(support)[0][w < 0]] = False
        reg[j, idx[support]] = w
    err = np.abs(reg @ verts - targets).max()
    if err > 1e-6:
        raise RuntimeError(f'joint regressor does not reproduce its targets (max error {err:.2e} m)')
    return reg


def _shape_dirs(verts: np.ndarray, soft: np.ndarray, weights: np.ndarray, prims: List[Primitive],
                rng: np.random.Generator) -> np.ndarray:
    """Ten shape directions (V, 3, 10); a unit beta is about one standard deviation of adult variation."""
    axis = np.einsum('vp,pvc->vc', soft, np.stack([p.closest_axis_point(verts) for p in prims]))
    radial = verts - axis
    names = SMPL_JOINT_NAMES
    extremities = weights[:, [names.index(n) for n in ('head', 'left_hand', 'right_hand', 'left_wrist',
                                                       'right_wrist', 'left_foot', 'right_foot')]].sum(1)
    torso = weights[:, [names.index(n) for n in ('pelvis', 'spine1', 'spine2', 'spine3')]].sum(1)
    x, y, z = verts.T
    sig = lambda s: 1.0 / (1.0 + np.exp(-s))  # noqa: E731
    dirs = np.zeros((len(verts), 3, 10))
    dirs[:, :, 0] = 0.055 * (verts - np.array([0.0, -0.30, 0.0]))                      # overall size
    dirs[:, :, 1] = 0.14 * radial * (1.0 - 0.8 * extremities)[:, None]                  # girth / weight
    dirs[:, 1, 2] = 0.07 * np.minimum(y + 0.30, 0.0)                                   # leg length
    dirs[:, 0, 3] = 0.06 * np.sign(x) * np.maximum(np.abs(x) - 0.08, 0.0) * sig((y - 0.05) / 0.03)
    dirs[:, 2, 4] = 0.5 * np.maximum(z, 0.0) * np.exp(-((y + 0.07) / 0.09)**2) * torso  # belly
    dirs[:, 0, 5] = 0.10 * x * (sig(-(y + 0.10) / 0.05) - 0.5) * (torso + weights[:, [1, 2]].sum(1))
    unit = radial / np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-6)
    for k in range(6, 10):   # seeded low-frequency bulges
        freq = rng.normal(0.0, 6.0, size=(3, 3))
        phase = rng.uniform(0.0, 2 * np.pi, size=3)
        amp = np.sin(verts @ freq + phase).sum(1) / 3.0
        dirs[:, :, k] = 0.012 * amp[:, None] * unit
    return dirs


def build_synthetic_smpl_arrays(seed: int = 0, voxel: float = 0.008) -> Dict[str, np.ndarray]:
    """Builds every array of the procedural body.

    Args:
        seed (int): Seed of the random shape directions. Defaults to 0.
        voxel (float): Grid step of the implicit surface in metres. Defaults to 0.008.

    Returns:
        dict: SMPL keys ``v_template`` (6890, 3), ``shapedirs`` (6890, 3, 10), ``posedirs`` (6890, 3, 207),
        ``J_regressor`` (24, 6890), ``weights`` (6890, 24), ``kintree_table`` (2, 24) int64, ``f``
        (13776, 3) int64, ``J`` (24, 3), plus ``J_regressor_h36m`` (17, 6890), ``J_regressor_extra``
        (9, 6890), ``coco_face_vertex_ids`` (5,) int64, ``keypoint_vertex_ids`` (21,) int64 and
        ``pmnet_synthetic`` (True).
    """
    rng = np.random.default_rng(seed)
    joints = rest_joints(SMPL_JOINT_NAMES)
    prims = body_primitives(joints, SMPL_JOINT_NAMES)
    field, lo = _sdf_grid(prims, voxel)
    verts, faces = _mesh_from_field(field, lo, voxel)
    soft, weights = _skinning(verts, faces, prims)
    j_reg = _solve_regressor(verts, joints)
    h36m_reg = _solve_regressor(verts, h36m_targets(joints, SMPL_JOINT_NAMES))
    extra_reg = _solve_regressor(verts, extra_targets(joints, SMPL_JOINT_NAMES))
    nearest = lambda pts: np.array([np.argmin(np.linalg.norm(verts - p, axis=1)) for p in pts])  # noqa: E731
    face_ids, keypoint_ids = nearest(face_landmarks()), nearest(vertex_landmarks())
    kintree = np.array([[KINTREE_ROOT_PARENT] + SMPL_PARENTS[1:], list(range(NUM_SMPL_JOINTS))], np.int64)
    return dict(
        v_template=verts.astype(np.float64), shapedirs=_shape_dirs(verts, soft, weights, prims, rng),
        posedirs=np.zeros((len(verts), 3, 207)), J_regressor=j_reg, weights=weights,
        kintree_table=kintree, f=faces.astype(np.int64), J=j_reg @ verts, J_regressor_h36m=h36m_reg,
        J_regressor_extra=extra_reg, coco_face_vertex_ids=face_ids.astype(np.int64),
        keypoint_vertex_ids=keypoint_ids.astype(np.int64), pmnet_synthetic=np.array(True))


def gendered_arrays(arrays: Dict[str, np.ndarray], gender: str) -> Dict[str, np.ndarray]:
    """The male or female variant: the neutral template moved by ``GENDER_BETAS[gender]``.

    Args:
        arrays (dict): Output of :func:`build_synthetic_smpl_arrays` (without the regressor files).
        gender (str): ``'male'`` or ``'female'``.

    Returns:
        dict: The same keys with ``v_template`` and ``J`` changed (joints follow the vertices through the
        unchanged ``J_regressor``).
    """
    v = arrays['v_template'] + arrays['shapedirs'] @ GENDER_BETAS[gender]
    return dict(arrays, v_template=v, J=arrays['J_regressor'] @ v)


def _is_synthetic(path: str) -> bool:
    if path.endswith('.npz'):
        with np.load(path) as d:
            return 'pmnet_synthetic' in d.files
    from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
    try:
        return 'pmnet_synthetic' in load_smpl_model_file(path)
    except Exception:  # noqa: BLE001  (an unreadable file is not ours either)
        return False


def make_synthetic_smpl(out_dir: str, seed: int = 0, force: bool = False) -> Dict[str, str]:
    """Writes the procedural body in the official layout under ``out_dir``.

    Files: ``smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl`` (official pickle layout), ``smpl/SMPL_NEUTRAL.npz``,
    ``J_regressor_h36m.npy`` (17, 6890), ``J_regressor_extra.npy`` (9, 6890) and ``smpl_mean_params.npz``
    (SPIN format: rest pose with global orient (pi, 0, 0), zero shape, cam (0.9, 0, 0)).

    Args:
        out_dir (str): Target folder (e.g. ``data/body_models``).
        seed (int): Generation seed. Defaults to 0.
        force (bool): Overwrite files that are not ours (real SMPL/SPIN downloads). Defaults to False.

    Returns:
        dict: ``model_path``, ``model_path_npz``, ``model_path_male``, ``model_path_female``,
        ``h36m_regressor``, ``extra_regressor``, ``mean_params``, ``dir``.
    """
    from scipy.sparse import csc_matrix
    paths = dict(model_path=osp.join(out_dir, 'smpl', 'SMPL_NEUTRAL.pkl'),
                 model_path_npz=osp.join(out_dir, 'smpl', 'SMPL_NEUTRAL.npz'),
                 model_path_male=osp.join(out_dir, 'smpl', 'SMPL_MALE.pkl'),
                 model_path_female=osp.join(out_dir, 'smpl', 'SMPL_FEMALE.pkl'),
                 h36m_regressor=osp.join(out_dir, 'J_regressor_h36m.npy'),
                 extra_regressor=osp.join(out_dir, 'J_regressor_extra.npy'),
                 mean_params=osp.join(out_dir, 'smpl_mean_params.npz'), dir=out_dir)
    if not force:
        ours = osp.isfile(paths['model_path']) and _is_synthetic(paths['model_path'])
        for key, path in paths.items():
            if key == 'dir' or not osp.isfile(path):
                continue
            if not (_is_synthetic(path) if not key.endswith('regressor') else ours):
                raise FileExistsError(f'{path} exists and is not a synthetic pmnet body model; refusing to '
                                      'overwrite it (pass force=True / --force to do so anyway)')
    arrays = build_synthetic_smpl_arrays(seed)
    h36m, extra = arrays.pop('J_regressor_h36m'), arrays.pop('J_regressor_extra')
    os.makedirs(osp.dirname(paths['model_path']), exist_ok=True)
    for key, gender in (('model_path', None), ('model_path_male', 'male'), ('model_path_female', 'female')):
        body = arrays if gender is None else dict(gendered_arrays(arrays, gender), gender=gender)
        pkl = dict(body, J_regressor=csc_matrix(body['J_regressor']), bs_type='lrotmin', bs_style='lbs')
        with open(paths[key], 'wb') as f:
            pickle.dump(pkl, f, protocol=2)
    np.savez_compressed(paths['model_path_npz'], **arrays)
    np.save(paths['h36m_regressor'], h36m.astype(np.float64))
    np.save(paths['extra_regressor'], extra.astype(np.float64))
    pose_rot6d = np.tile(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]), (NUM_SMPL_JOINTS, 1))
    pose_rot6d[0] = np.diag([1.0, -1.0, -1.0])[:, :2].reshape(6)   # axis-angle (pi, 0, 0)
    np.savez(paths['mean_params'], pose=pose_rot6d.reshape(-1), shape=np.zeros(10), cam=np.array([0.9, 0.0, 0.0]),
             pmnet_synthetic=np.array(True))
    return paths
