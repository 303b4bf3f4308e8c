from __future__ import annotations

import numpy as np

from mtfas.preprocessing import Box, crop_face, crop_region
from mtfas.preprocessing.crop import resize_square


def _image() -> np.ndarray:
    image = np.full((100, 120, 3), 50, dtype=np.uint8)
    image[20:60, 30:70] = (255, 0, 0)  # the "face" box (30, 20, 70, 60)
    return image


def test_region_is_enlarged_square_around_centre() -> None:
    assert crop_region((30, 20, 70, 60), 1.0) == (30, 20, 70, 60)
    assert crop_region((30, 20, 70, 60), 1.5) == (20, 10, 80, 70)
    # A 40 x 20 box becomes a 40 x 40 square on the same centre.
    assert crop_region(Box(30, 30, 70, 50), 1.0) == (30, 20, 70, 60)
    assert crop_region((30, 30, 70, 50), 1.0, square=False) == (30, 30, 70, 50)


def test_crop_at_scale_one_is_exactly_the_box() -> None:
    crop = crop_face(_image(), (30, 20, 70, 60), size=32, scale=1.0)
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    assert (crop == (255, 0, 0)).all()


def test_crop_scale_keeps_face_centred() -> None:
    crop = crop_face(_image(), (30, 20, 70, 60), size=64, scale=2.0)
    assert (crop[20:44, 20:44] == (255, 0, 0)).all()  # inner half: the box
    assert (crop[:12, :12] == 50).all() and (crop[-12:, -12:] == 50).all()


def test_crop_outside_frame_is_padded() -> None:
    image = _image()
    black = crop_face(image, (-20, -20, 20, 20), size=40, scale=1.0)
    assert (black[:18, :18] == 0).all() and (black[25:, 25:] == 50).all()
    edge = crop_face(image, (-20, -20, 20, 20), size=40, scale=1.0, border="replicate")
    assert (edge == 50).all()
    gone = crop_face(image, (500, 500, 540, 540), size=16, scale=1.0)
    assert (gone == 0).all()
    gone_edge = crop_face(image, (500, 500, 540, 540), size=16, scale=1.0, border="replicate")
    assert (gone_edge == 50).all()


def test_large_shrink_is_low_pass_filtered() -> None:
    # A one-pixel checkerboard must shrink to flat grey, not to an aliasing pattern.
    board = (np.indices((1024, 1024)).sum(axis=0) % 2 * 255).astype(np.uint8)
    small = resize_square(np.dstack([board] * 3), 100)
    assert small.shape == (100, 100, 3)
    assert abs(small.mean() - 127.5) < 3 and small.std() < 3
