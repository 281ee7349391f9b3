"""MeshRenderer: OpenCV camera convention, mask, compositing, side view."""
import numpy as np
import pytest

pytest.importorskip('pyrender')
trimesh = pytest.importorskip('trimesh')


@pytest.fixture(scope='module')
def renderer():
    from pmnet_plugin.visualization.renderer import MeshRenderer
    r = MeshRenderer()
    yield r
    r.close()


def box(center, extents):
    mesh = trimesh.creation.box(extents=extents)
    return np.asarray(mesh.vertices) + np.asarray(center), np.asarray(mesh.faces)


def project(point, focal, princpt):
    return np.asarray(point[:2]) / point[2] * focal + np.asarray(princpt)


def test_mask_at_projected_location_opencv_frame(renderer):
    focal, princpt = 500.0, (64.0, 48.0)
    center = np.array([0.3, 0.2, 3.0])  # right of and below the optical axis (y down)
    verts, faces = box(center, (0.2, 0.2, 0.2))
    rgb, mask = renderer.render(verts, faces, focal, princpt, img_size=(128, 96))
    assert rgb.shape == (96, 128, 3) and mask.shape == (96, 128) and mask.dtype == bool
    u, v = np.round(project(center, focal, princpt)).astype(int)
    assert mask[v, u] and mask.sum() > 50
    assert not mask[:48].any() and not mask[:, :64].any()  # nothing above / left of the principal point
    assert rgb[mask].mean() > 30  # lit
    assert (rgb[~mask] == 0).all()


def test_composite_keeps_background_and_resizes(renderer):
    verts, faces = box((0.0, 0.0, 2.0), (0.3, 0.3, 0.3))
    img = np.full((60, 80, 3), 77, np.uint8)
    rgb, mask = renderer.render(verts, faces, (300.0, 300.0), (40.0, 30.0), img=img, color=(1.0, 0.2, 0.2))
    assert rgb.shape == img.shape and mask.any() and (~mask).any()
    assert (rgb[~mask] == 77).all()
    assert rgb[mask][:, 0].mean() > rgb[mask][:, 2].mean()  # red mesh


def test_side_view_rotates_about_vertical(renderer):
    # A board wide in x and thin in z: seen from the side it becomes narrow.
    verts, faces = box((0.0, 0.0, 4.0), (1.0, 0.5, 0.05))
    _, front = renderer.render(verts, faces, 200.0, (64.0, 64.0), img_size=(128, 128))
    _, side = renderer.render(verts, faces, 200.0, (64.0, 64.0), img_size=(128, 128), side_view=True)
    width = lambda m: np.ptp(np.nonzero(m)[1])  # noqa: E731
    height = lambda m: np.ptp(np.nonzero(m)[0])  # noqa: E731
    assert width(side) < 0.3 * width(front)
    assert abs(height(side) - height(front)) <= 3
