"""The reference's grounding policy reads its words from model.json's `vocabulary` (models/pixel_sail/vocabulary.py,
as Rust src/grounding/vocabulary.rs): the shipped section is the tabletop's words, and a model folder whose section
says other words gets those words in what the reference publishes."""

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from models.pixel_sail import vocab
from models.pixel_sail.reference import from_model_dir
from models.pixel_sail.vocabulary import Attributes, Vocabulary

TINY = Path(ROOT) / "models/tiny"
KITCHEN = {
    "sizes": ["tiny", "huge"],
    "colours": ["crimson", "teal"],
    "shapes": ["mug", "plate"],
    "places": ["nw", "n", "ne", "w", "middle", "e", "sw", "s", "se"],
    "synonyms": {"cup": "mug"},
    "description": "the {colour} {shape} , {size} , {place}",
}


def _model_dir(tmp_path, vocabulary):
    """models/tiny's graphs and tokenizer with its model.json's `vocabulary` replaced."""
    for f in ("vision.onnx", "text.onnx", "mask_head.onnx", "tokenizer.json"):
        (tmp_path / f).symlink_to(TINY / f)
    meta = json.loads((TINY / "model.json").read_text())
    meta["vocabulary"] = vocabulary
    (tmp_path / "model.json").write_text(json.dumps(meta))
    return tmp_path


class _NoModel:
    """A backend with the tiny model's tokens that fails any pass: the policy's word handling alone runs."""

    def __init__(self):
        self.tokens = json.loads((TINY / "model.json").read_text())["tokens"]

    def vision(self, *_):
        raise AssertionError("no model pass expected")

    text = mask_head = vision


def test_the_shipped_vocabulary_is_the_tabletops():
    v = Vocabulary.of_model(TINY)
    assert (list(v.sizes), list(v.colours), list(v.shapes)) == (vocab.SIZES, vocab.COLOURS, vocab.SHAPES)
    assert list(v.places) == [p for row in vocab.PLACES for p in row]
    assert v.synonyms == {"big": "large"}
    assert (v.colour_step(), v.shape_step(), v.attribute_words()) == (2, 3, 4)
    places = [p for row in vocab.PLACES for p in row]
    for words in itertools.product(vocab.SIZES, vocab.COLOURS, vocab.SHAPES, places):
        text = vocab.description(*words)
        assert v.write(Attributes(*words)) == text
        assert v.parse(text) == vocab.parse_description(text) == words
    for text in ("a big red star on the left", "A small RED star in the center", "a small red", "a red star",
                 "a small red star on the left extra", "a small red star", "the small red star on the left"):
        assert v.parse(text) == vocab.parse_description(text), text
    assert v.stated("Pick up the RED star!") == ("red", "star")
    assert v.stated("the starry reddish ring") == (None, "ring")


def test_another_vocabulary_reads_and_writes_its_own_words():
    v = Vocabulary.from_spec(KITCHEN)
    assert v.stated("pick up the crimson cup") == ("crimson", "mug")
    assert v.stated("the red star") == (None, None)
    assert v.parse("the teal plate , huge , middle") == ("huge", "teal", "plate", "middle")
    assert v.parse("a large red star on the left") is None
    assert (v.colour_step(), v.shape_step(), v.attribute_words()) == (1, 2, 3)
    assert v.with_place("the teal plate , huge , middle", "se") == "the teal plate , huge , se"
    assert v.merge_close_look("the teal plate , huge , nw", "the crimson cup , tiny , se") == \
        "the crimson mug , huge , nw"


@pytest.mark.parametrize("change, reason", [
    (lambda s: s["places"].pop(), "9 cells"),
    (lambda s: s.update(description="a {colour} {shape}"), "once each"),
    (lambda s: s.update(description="a {size} {colour} {shape} {place} {weight}"), "unknown slot {weight}"),
    (lambda s: s["colours"].clear(), "vocabulary.colours"),
    (lambda s: s["shapes"].append("Star"), "vocabulary.shapes"),
])
def test_a_bad_section_is_refused_with_the_reason(change, reason):
    spec = json.loads(json.dumps(KITCHEN))
    change(spec)
    with pytest.raises(ValueError, match=re.escape(reason)):
        Vocabulary.from_spec(spec)


def test_the_references_policy_words_come_from_model_json(tmp_path):
    ref = from_model_dir(str(_model_dir(tmp_path, KITCHEN)), backend=_NoModel())
    assert ref.policy == "published" and ref.vocabulary == Vocabulary.from_spec(KITCHEN)
    # a large object in the top-left cell: no closer look, the place from the mask in the model's words
    mask = np.zeros((480, 640), bool)
    mask[0:200, 0:250] = True
    text, look = ref.word_object(None, mask, "the teal plate , huge , middle", [], [])
    assert (text, look) == ("the teal plate , huge , nw", None)
    # a small object found by a command naming none of the model's colours and shapes: no closer check runs
    small = np.zeros((480, 640), bool)
    small[100:120, 100:120] = True
    assert ref.confirm(np.zeros((480, 640, 3), np.uint8), small, "pick up the red star") == (True, None)


def test_a_described_object_is_placed_with_the_model_jsons_place_words(tmp_path):
    """The shipped model's description of a found object, with the place words moved one cell on in model.json:
    the same description but for the place, which is the moved phrase of the mask's cell."""
    spec = json.loads((TINY / "model.json").read_text())["vocabulary"]
    moved = {**spec, "places": spec["places"][1:] + spec["places"][:1]}
    shipped, other = from_model_dir(str(TINY)), from_model_dir(str(_model_dir(tmp_path, moved)))
    img = np.asarray(Image.open(f"{ROOT}/tests/fixtures/tabletop_640x480.jpg").convert("RGB"))
    st = shipped.encode(img)
    mask = next(r["mask"] for r in shipped.segment(st, ["pick up the green triangle", "find the red square"])
                if r["found"])
    said = shipped.describe_object(img, mask)["text"]
    words = shipped.vocabulary.parse(said)
    assert words is not None, said
    cell = spec["places"].index(words.place)
    assert other.describe_object(img, mask)["text"] == shipped.vocabulary.with_place(said, moved["places"][cell])
