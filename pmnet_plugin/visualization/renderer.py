"""Off-screen mesh renderer (pyrender): OSMesa on CPU machines, EGL on GPU machines.

``pyrender`` is imported inside :class:`MeshRenderer`, so importing ``pmnet_plugin`` never needs OpenGL.
With ``PYOPENGL_PLATFORM`` unset the renderer sets ``osmesa``; on a GPU machine export ``egl``.
"""
import os
from typing import Optional, Sequence, Tuple

import numpy as np

# OpenCV camera (x right, y down, z forward) -> OpenGL camera (x right, y up, z backward).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0])


class MeshRenderer:
    """Renders a triangle mesh given in the OpenCV camera frame with a pinhole camera (pyrender).

    The off-screen renderer and the scene (camera, ambient + key + fill lights) are kept per instance; only
    the mesh node is swapped per call, and the renderer is made again when the image size changes.

    Args:
        platform (str, optional): ``PYOPENGL_PLATFORM`` to use when the variable is unset
            ('osmesa' or 'egl'). Defaults to 'osmesa'.
        ambient (float): ambient light level. Defaults to 0.25.

    Note:
        - vertices: V
        - faces: F
        - image height / width: H / W
    """

    def __init__(self, platform: str = 'osmesa', ambient: float = 0.25) -> None:
        os.environ.setdefault('PYOPENGL_PLATFORM', platform)
        import pyrender  # noqa: WPS433 (lazy: needs OpenGL)
        self._pyrender = pyrender
        self.ambient = float(ambient)
        self._renderer = None
        self._size: Tuple[int, int] = (0, 0)
        self._scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(self.ambient, ) * 3)
        self._camera = pyrender.IntrinsicsCamera(1.0, 1.0, 0.0, 0.0)
        self._scene.add(self._camera, pose=np.eye(4))
        self._key = self._scene.add(pyrender.DirectionalLight(color=np.ones(3)))
        self._fill = self._scene.add(pyrender.PointLight(color=np.ones(3)))
        self._mesh_node = None

    def _get_renderer(self, width: int, height: int):
        if self._renderer is None or self._size != (width, height):
            self.close()
            self._renderer = self._pyrender.OffscreenRenderer(width, height)
            self._size = (width, height)
            # pyrender keys its shader cache by the current-context object, which PyOpenGL re-creates on
            # every call under OSMesa: every render would compile (and leak) a program. One renderer owns
            # one context, so a cache keyed by shaders + defines alone is exact.
            self._renderer._renderer._program_cache = _single_context_program_cache()
        return self._renderer

    def close(self) -> None:
        """Release the OpenGL context (also called on garbage collection)."""
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass

    def render(self,
               vertices: np.ndarray,
               faces: np.ndarray,
               focal: Sequence[float],
               princpt: Sequence[float],
               img: Optional[np.ndarray] = None,
               color: Sequence[float] = (0.65, 0.74, 0.86),
               side_view: bool = False,
               img_size: Optional[Tuple[int, int]] = None,
               light_intensity: float = 3.0,
               light_dir: Optional[Sequence[float]] = None,
               alpha: float = 1.0,
               vertex_colors: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Render the mesh and composite it over ``img``.

        Args:
            vertices (np.ndarray): (V, 3) in the OpenCV camera frame, metres.
            faces (np.ndarray): (F, 3) vertex indices.
            focal (float | Sequence[float]): focal length(s) in px, ``f`` or ``(fx, fy)``.
            princpt (Sequence[float]): principal point ``(cx, cy)`` in px.
            img (np.ndarray, optional): (H, W, 3) uint8 RGB background; black when None.
            color (Sequence[float]): mesh base colour, RGB in [0, 1].
            side_view (bool): rotate the mesh 90 deg about the vertical axis through its centre.
                Defaults to False.
            img_size (Tuple[int, int], optional): ``(W, H)`` when ``img`` is None. Defaults to ``(2 cx, 2 cy)``.
            light_intensity (float): key light intensity (fill light 1.5x). Defaults to 3.0.
            light_dir (Sequence[float], optional): direction of the key light, camera frame. Defaults to
                ``(0.3, 0.6, 1.0)``.
            alpha (float): mesh opacity. Defaults to 1.0.
            vertex_colors (np.ndarray, optional): (V, 3) RGB in [0, 1] per vertex, multiplied by ``color``.

        Returns:
            tuple: ``rgb`` (H, W, 3) uint8 composite and ``mask`` (H, W) bool silhouette.
        """
        pyrender = self._pyrender
        verts = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        if img is not None:
            height, width = img.shape[:2]
        elif img_size is not None:
            width, height = int(img_size[0]), int(img_size[1])
        else:
            width, height = int(round(2 * princpt[0])), int(round(2 * princpt[1]))
        fx, fy = (float(focal), float(focal)) if np.isscalar(focal) else (float(focal[0]), float(focal[1]))
        center = verts.mean(0)
        if side_view:
            rot_y = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # +90 deg about y
            verts = (verts - center) @ rot_y.T + center

        material = pyrender.MetallicRoughnessMaterial(
            metallicFactor=0.0, roughnessFactor=0.7, alphaMode='OPAQUE',
            baseColorFactor=(float(color[0]), float(color[1]), float(color[2]), 1.0))
        faces = np.asarray(faces)
        verts_gl = verts @ _CV_TO_GL.T
        prim = pyrender.Primitive(positions=verts_gl.astype(np.float32),
                                  normals=_vertex_normals(verts_gl, faces).astype(np.float32),
                                  color_0=None if vertex_colors is None else
                                  np.asarray(vertex_colors, np.float32).reshape(-1, 3),
                                  indices=faces.astype(np.uint32), material=material,
                                  mode=pyrender.constants.GLTF.TRIANGLES)
        if self._mesh_node is not None:
            self._scene.remove_node(self._mesh_node)
        self._mesh_node = self._scene.add(pyrender.Mesh(primitives=[prim]))

        depths = verts[:, 2]
        cam = self._camera
        cam.fx, cam.fy, cam.cx, cam.cy = fx, fy, float(princpt[0]), float(princpt[1])
        cam.znear = max(1e-3, 0.5 * float(depths.min())) if depths.min() > 0 else 1e-2
        cam.zfar = 2.0 * float(depths.max()) + 1.0

        direction = np.asarray(light_dir if light_dir is not None else (0.3, 0.6, 1.0), dtype=np.float64)
        direction = _CV_TO_GL @ (direction / np.linalg.norm(direction))
        self._key.light.intensity = float(light_intensity)
        self._scene.set_pose(self._key, _light_pose(direction))
        fill_pose = np.eye(4)
        fill_pose[:3, 3] = _CV_TO_GL @ (center + np.array([1.0, -0.5, -1.5]) * 2.0 / np.sqrt(3.5))
        self._fill.light.intensity = 1.5 * float(light_intensity)
        self._scene.set_pose(self._fill, fill_pose)

        renderer = self._get_renderer(width, height)
        rgba, depth = renderer.render(self._scene, flags=pyrender.RenderFlags.RGBA)
        mask = depth > 0
        background = np.zeros((height, width, 3), np.uint8) if img is None else np.asarray(img)
        weight = (mask * float(alpha))[..., None]
        out = rgba[..., :3].astype(np.float32) * weight + background.astype(np.float32) * (1.0 - weight)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8), mask


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """4x4 pose whose -z axis (pyrender's light direction) is ``direction`` (OpenGL frame)."""
    z_axis = -direction / np.linalg.norm(direction)
    helper = np.array([0.0, 1.0, 0.0]) if abs(z_axis[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x_axis = np.cross(helper, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x_axis, np.cross(z_axis, x_axis), z_axis], axis=1)
    return pose


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, (V, 3)."""
    tri = verts[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.stack([sum(np.bincount(faces[:, k], face_n[:, c], minlength=len(verts)) for k in range(3))
                        for c in range(3)], axis=1)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _single_context_program_cache():
    """A pyrender ``ShaderProgramCache`` that ignores the (unstable under OSMesa) context key."""
    from pyrender.shader_program import ShaderProgramCache

    class _Cache(ShaderProgramCache):

        def get_program(self, vertex_shader, fragment_shader, geometry_shader=None, defines=None):
            key = (vertex_shader, fragment_shader, geometry_shader, tuple(sorted((defines or {}).items())))
            programs = self.__dict__.setdefault('_by_key', {})
            if key not in programs:
                programs[key] = super().get_program(vertex_shader, fragment_shader, geometry_shader,
                                                    defines)
            return programs[key]

        def clear(self):
            self.__dict__['_by_key'] = {}
            super().clear()

    return _Cache()
