"""The depth renderer: depths as designed, 3-D truth that reprojects into its object, checked-in files current,
and the colour renderer's output unchanged by it."""

import hashlib
import json
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from models.pixel_sail.depth import (HEIGHT_MM, Camera, camera_info_yaml, object_coverage, object_height_mm,
                                     render_depth, truth_3d, visible_tops)
from models.pixel_sail.make_depth_fixtures import MILD_BARREL, SCENES, write_scene
from models.pixel_sail.render_sample import FPS, H, SECONDS, W, base_scene, frame_scene
from models.pixel_sail.tabletop import render, sample_scene

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(ROOT, "models", "sample")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "depth")
SEEDS = range(3_000_000, 3_000_030)

# sha256 of render()'s rgb and labels bytes, computed with tabletop.py as it was before depth.py existed (the
# same with numpy's SIMD paths disabled: NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL")
RENDER_SHA256 = {
    (3_000_000, 320, 240): "57659bdd59c2aa1c28c54e9d525971c6c90dddc92d35cfd2647cdb48a21b281e",
    (3_000_007, 640, 480): "49edd4b889bd39066d785b5869cd1b3e3713d502674363f6190a032264584256",
    (1_000_123, 333, 251): "d0cdc2e46a25a46aca1b1a11b6377799def840984d63cfb4b4dcba17f280cf3c",
}
SAMPLE_FRAME_100_SHA256 = "d2e6a93e0c368e61fb46d6afae393a05c1e88bcde8b3367ff25bb04b16af5e88"


def _sha(img, labels):
    return hashlib.sha256(img.tobytes() + labels.tobytes()).hexdigest()


def test_render_output_is_unchanged():
    for (seed, w, h), digest in RENDER_SHA256.items():
        assert _sha(*render(sample_scene(seed), w, h)) == digest, (seed, w, h)
    scene, motions = base_scene()
    assert _sha(*render(frame_scene(scene, motions, 100 / FPS, 100), W, H)) == SAMPLE_FRAME_100_SHA256


def test_coverage_is_the_colour_renderers():
    for seed in SEEDS:
        scene = sample_scene(seed)
        labels, _ = visible_tops(scene, 320, 240)
        assert np.array_equal(labels, render(scene, 320, 240, effects=False)[1]), seed


def test_table_and_object_tops_have_their_depths():
    cam = Camera.looking_down(W, H)
    for seed in SEEDS:
        scene = sample_scene(seed)
        depth = render_depth(scene, W, H, cam)
        assert depth.dtype == np.uint16
        touched = np.zeros((H, W), bool)
        for o in scene.objects:
            y0, y1, x0, x1, alpha = object_coverage(o, W, H)
            touched[y0:y1, x0:x1] |= alpha > 0
        assert (depth[~touched] == 800).all(), seed
        _, tops = visible_tops(scene, W, H)
        for o, top in zip(scene.objects, tops):
            assert HEIGHT_MM[0] <= object_height_mm(o) <= HEIGHT_MM[1]
            assert top.any() and (depth[top] == 800 - object_height_mm(o)).all(), seed
        # edges blend: some pixels lie strictly between an object's top and the table
        lowest_top = 800 - max(object_height_mm(o) for o in scene.objects)
        flying = (depth > lowest_top) & (depth < 800) & ~np.any(tops, axis=0)
        assert flying.sum() > 20, seed


def test_heights_stay_with_an_object_as_it_moves():
    scene, motions = base_scene()
    first = [object_height_mm(o) for o in frame_scene(scene, motions, 0, 0).objects]
    assert first == [object_height_mm(o) for o in frame_scene(scene, motions, 7.0, 210).objects]
    assert len(set(first)) > 3  # drawn per object, not one height for all


@pytest.mark.parametrize("distortion", [(0.0,) * 5, MILD_BARREL])
def test_truth_centroid_reprojects_into_its_object(distortion):
    cam = Camera.looking_down(W, H, d=distortion)
    for seed in SEEDS:
        scene = sample_scene(seed)
        labels, tops = visible_tops(scene, W, H)
        for o, entry, top in zip(scene.objects, truth_3d(scene, cam), tops):
            x, y, z = entry["centroid"]
            assert z == pytest.approx(cam.table_m - object_height_mm(o) / 1000)
            u, v = cam.project(np.array(x), np.array(y), z)
            vs, us = np.nonzero(top)
            assert abs(u - us.mean()) < 1.0 and abs(v - vs.mean()) < 1.0, (seed, o.shape)
            hidden = top.sum() < 0.98 * (object_coverage(o, W, H)[4] == 1).sum()
            if o.shape == "ring" and not hidden:  # the centroid lies over the hole, at the ring's centre
                assert abs(u - (o.cx * W - 0.5)) < 1.0 and abs(v - (o.cy * H - 0.5)) < 1.0, seed
            elif not hidden:
                assert labels[int(round(float(v))), int(round(float(u)))] == entry["label"], (seed, o.shape)
            px, py = cam.back_project(us, vs, z)  # every top pixel goes back to where it came from
            pu, pv = cam.project(px, py, z)
            assert np.abs(pu - us).max() < 1e-6 and np.abs(pv - vs).max() < 1e-6
            assert entry["extent"][0] == pytest.approx(px.max() - px.min(), abs=2e-6)
            assert entry["pixels"] == len(us) and entry["label_pixels"] == (labels == entry["label"]).sum()


def test_centroid_from_the_depth_image_agrees_with_the_truth():
    cam = Camera.looking_down(W, H)
    for seed in SEEDS:
        scene = sample_scene(seed)
        depth = render_depth(scene, W, H, cam).astype(np.float64) / 1000
        labels, _ = visible_tops(scene, W, H)
        for o, entry in zip(scene.objects, truth_3d(scene, cam)):
            z_top = 0.8 - object_height_mm(o) / 1000
            vs, us = np.nonzero((labels == entry["label"]) & (np.abs(depth - z_top) < 1e-9))
            x, y = cam.back_project(us, vs, depth[vs, us])
            assert np.allclose([x.mean(), y.mean()], entry["centroid"][:2], atol=5e-4), (seed, o.shape)


def test_depth_at_half_resolution_is_the_same_scene():
    cam = Camera.looking_down(W, H)
    scene = sample_scene(3_000_009)
    full, half = render_depth(scene, W, H, cam), render_depth(scene, W // 2, H // 2, cam)
    assert set(np.unique(half)) <= set(np.unique(full)) | set(range(700, 801))
    _, tops = visible_tops(scene, W // 2, H // 2)
    labels, _ = visible_tops(scene, W, H)
    for idx, top in enumerate(tops):
        vs, us = np.nonzero(top)
        assert (labels[2 * vs, 2 * us] == idx + 1).mean() > 0.99


def test_camera_info_is_camera_calibration_yaml():
    cam = Camera.looking_down(320, 240, d=MILD_BARREL)
    info = yaml.safe_load(camera_info_yaml(cam))
    assert list(info) == ["image_width", "image_height", "camera_name", "camera_matrix", "distortion_model",
                          "distortion_coefficients", "rectification_matrix", "projection_matrix"]
    assert (info["image_width"], info["image_height"], info["distortion_model"]) == (320, 240, "plumb_bob")
    assert info["camera_matrix"] == {"rows": 3, "cols": 3, "data": [262.5, 0, 159.5, 0, 262.5, 119.5, 0, 0, 1]}
    assert info["distortion_coefficients"] == {"rows": 1, "cols": 5, "data": list(MILD_BARREL)}
    assert info["projection_matrix"]["data"] == [262.5, 0, 159.5, 0, 0, 262.5, 119.5, 0, 0, 0, 1, 0]


def test_sample_depth_and_truth_are_current():
    names = sorted(os.listdir(os.path.join(SAMPLE, "depth")))
    assert names == [f"{n:04d}.png" for n in range(FPS * SECONDS)]
    with open(os.path.join(SAMPLE, "truth_3d.jsonl")) as f:
        lines = f.readlines()
    assert len(lines) == FPS * SECONDS
    with open(os.path.join(SAMPLE, "camera_info.yaml")) as f:
        assert f.read() == camera_info_yaml(Camera.looking_down(W, H))
    scene, motions = base_scene()
    cam = Camera.looking_down(W, H)
    for n in (0, 123, 359):
        s = frame_scene(scene, motions, n / FPS, n)
        png = Image.open(os.path.join(SAMPLE, "depth", f"{n:04d}.png"))
        assert png.mode in ("I;16", "I") and png.size == (W, H)
        assert np.array_equal(np.array(png), render_depth(s, W, H, cam)), n
        assert json.loads(lines[n]) == {"frame": n, "objects": truth_3d(s, cam)}


def test_fixtures_are_what_the_script_writes(tmp_path):
    for name, (seed, dw, dh, dist) in SCENES.items():
        write_scene(str(tmp_path / name), seed, dw, dh, dist)
        for f in ("rgb.jpg", "depth.png", "labels.png", "camera_info.yaml", "truth.json"):
            with open(tmp_path / name / f, "rb") as a, open(os.path.join(FIXTURES, name, f), "rb") as b:
                assert a.read() == b.read(), (name, f)
