"""tools/demo.py input listing: the frames of a video and the images of a folder, in order."""
import cv2
import numpy as np
import pytest
from tool_loader import load_tool

demo = load_tool('demo')


def _write_video(path, frames):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 5, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def test_video_frames_equal_a_sequential_opencv_read(tmp_path):
    rng = np.random.default_rng(0)
    video = tmp_path / 'clip.avi'
    _write_video(video, [np.full((48, 64, 3), 40 * i, np.uint8) + rng.integers(0, 30, (48, 64, 3), np.uint8)
                         for i in range(4)])
    cap = cv2.VideoCapture(str(video))
    expected = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        expected.append(frame)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    total, frames = demo.iter_frames(str(video))
    frames = list(frames)
    assert total == count == 4
    assert [stem for stem, _ in frames] == [f'clip_{i:06d}' for i in range(4)]
    for (_, got), want in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_folder_lists_images_sorted_with_any_extension_case(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    for name in ('b.png', 'a.JPG', 'c.jpeg'):
        cv2.imwrite(str(tmp_path / name), img)
    (tmp_path / 'notes.txt').write_text('not an image')
    (tmp_path / 'sub').mkdir()
    cv2.imwrite(str(tmp_path / 'sub' / 'd.png'), img)  # not searched
    total, frames = demo.iter_frames(str(tmp_path))
    assert total == 3
    assert list(frames) == [(stem, str(tmp_path / name)) for stem, name in
                            (('a', 'a.JPG'), ('b', 'b.png'), ('c', 'c.jpeg'))]


def test_unreadable_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='no images'):
        demo.iter_frames(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        demo.iter_frames(str(tmp_path / 'missing.mp4'))
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(ValueError, match='cannot open video'):
        demo.iter_frames(str(bad))
