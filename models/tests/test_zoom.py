"""The region zoom's geometry and merge (the Rust side's unit tests in src/inference/zoom.rs assert the same
crops, so the two stay step-for-step alike)."""

from models.pixel_sail.zoom import DEFAULT, crop_rect, merge


def test_small_objects_get_a_crop_with_the_frame_aspect_inside_the_frame():
    assert crop_rect([300, 220, 348, 268], 640, 480) == [146, 110, 502, 377]
    assert crop_rect([0, 0, 40, 40], 640, 480) == [0, 0, 297, 223]
    assert crop_rect([610, 450, 640, 480], 640, 480) == [417, 313, 640, 480]
    assert crop_rect([100, 100, 104, 104], 640, 480) == [22, 42, 182, 162]  # never below a quarter of the frame
    for b in ([300, 220, 348, 268], [0, 0, 40, 40], [610, 450, 640, 480]):
        x0, y0, x1, y1 = crop_rect(b, 640, 480)
        assert abs((x1 - x0) / (y1 - y0) - 4 / 3) < 0.01
        assert x0 <= b[0] and y0 <= b[1] and x1 >= b[2] and y1 >= b[3]  # the object stays in view


def test_large_objects_get_no_second_look():
    assert crop_rect([200, 150, 320, 270], 640, 480) is None
    # 100 px across wants a 556-px crop: over 0.8 of the frame, so none; allowed up to the whole frame, one
    assert crop_rect([250, 200, 350, 270], 640, 480) is None
    assert crop_rect([250, 200, 350, 270], 640, 480, {**DEFAULT, "max_crop_fraction": 1.0}) == [22, 26, 578, 443]


def test_merge_takes_colour_and_shape_from_the_close_look():
    assert merge("a small red star on the left", "a large orange cross in the center") == "a small orange cross on the left"
    assert merge("a small red star on the left", "a red") is None


def test_the_crop_follows_the_largest_piece_of_the_mask():
    import numpy as np
    from models.pixel_sail.zoom import largest_component
    m = np.zeros((6, 8), bool)
    m[1:3, 1:4] = True      # 6 pixels
    m[4, 6] = m[5, 6] = True  # 2 stray pixels, below-right
    m[0, 7] = True           # touches the first piece only diagonally? no: far corner, alone
    got = largest_component(m)
    assert got.sum() == 6 and got[1:3, 1:4].all() and not got[4:, 6].any()
    tie = np.zeros((3, 5), bool)
    tie[0, 0] = tie[2, 4] = True
    assert np.argwhere(largest_component(tie)).tolist() == [[0, 0]]  # first in raster order wins a tie
