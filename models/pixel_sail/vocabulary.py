"""The domain words the reference's grounding policy reads and writes, from model.json's `vocabulary` section
(as Rust `src/grounding/vocabulary.rs`): sizes, colours, shapes, the 3×3 grid's place phrases and the description
template ("a {size} {colour} {shape} {place}", DESIGN.md §4). Commands are read against it (which colour and
shape they name), descriptions are parsed and rewritten with it (the closer look's words, the mask's place).
Nothing here knows the tabletop: a model trained on other words brings them in its model.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import NamedTuple

SLOTS = ("size", "colour", "shape", "place")


class Attributes(NamedTuple):
    """A description's four attributes."""
    size: str
    colour: str
    shape: str
    place: str


@dataclass(frozen=True)
class Vocabulary:
    """model.json's `vocabulary`, checked (`from_spec`). `template` holds the description's parts in order: a
    slot name from SLOTS, or ("word", w) for a literal word."""
    sizes: tuple
    colours: tuple
    shapes: tuple
    places: tuple  # the 3×3 grid's phrases, row by row from the top left
    synonyms: dict  # a word → the word it is read as ({"big": "large"})
    template: tuple

    @staticmethod
    def from_spec(spec: dict) -> "Vocabulary":
        """Checks the section: every list non-empty and lower case, nine places, a template naming each of
        `{size}`, `{colour}`, `{shape}` and `{place}` once. ValueError with the reason otherwise."""
        missing = [k for k in ("sizes", "colours", "shapes", "places", "description") if k not in spec]
        if missing:
            raise ValueError(f"`vocabulary` lacks {', '.join(missing)}")

        def word_list(name):
            words = spec[name]
            if not words or any(not isinstance(w, str) or not w.strip() or w != w.lower() for w in words):
                raise ValueError(f"`vocabulary.{name}` must be a non-empty list of lower-case words, found {words!r}")
            return tuple(w.strip() for w in words)

        places = word_list("places")
        if len(places) != 9:
            raise ValueError(f"`vocabulary.places` must name the 9 cells of the 3×3 grid, found {len(places)}")
        template = []
        for word in spec["description"].split():
            if word in ("{size}", "{colour}", "{shape}", "{place}"):
                template.append(word[1:-1])
            elif "{" in word:
                raise ValueError(f"`vocabulary.description`: unknown slot {word}")
            else:
                template.append(("word", word.lower()))
        if any(template.count(slot) != 1 for slot in SLOTS):
            raise ValueError("`vocabulary.description` must name {size}, {colour}, {shape} and {place} once each, "
                             f"found {spec['description']!r}")
        return Vocabulary(
            sizes=word_list("sizes"), colours=word_list("colours"), shapes=word_list("shapes"), places=places,
            synonyms={k.lower(): v.lower() for k, v in spec.get("synonyms", {}).items()}, template=tuple(template))

    @staticmethod
    def of_model(model_dir) -> "Vocabulary | None":
        """The vocabulary of the model in `model_dir` (None: its model.json has no `vocabulary` section)."""
        with open(f"{model_dir}/model.json") as f:
            spec = json.load(f).get("vocabulary")
        return None if spec is None else Vocabulary.from_spec(spec)

    def place(self, cell: int) -> str | None:
        """The place phrase of the grid cell `row * 3 + column` (rows from the top, columns from the left)."""
        return self.places[cell] if 0 <= cell < len(self.places) else None

    def colour_step(self) -> int:
        """Which generated word is the colour: its index in the template, one generated token per word before it."""
        return self.template.index("colour")

    def shape_step(self) -> int:
        """Which generated word is the shape."""
        return self.template.index("shape")

    def attribute_words(self) -> int:
        """Generated words up to and including the colour and the shape (what the closer check decodes)."""
        return max(self.colour_step(), self.shape_step()) + 1

    def _words_of(self, text: str) -> list:
        """A description's words (split at white space, as the template is), synonyms read as their word."""
        return [self.synonyms.get(w, w) for w in text.lower().split()]

    def parse(self, text: str) -> Attributes | None:
        """The attributes of a text written with the template, or None when it is not one."""
        words = self._words_of(text)
        at, found = 0, {}
        for part in self.template:
            if isinstance(part, tuple):
                if at >= len(words) or words[at] != part[1]:
                    return None
                at += 1
                continue
            entries = {"size": self.sizes, "colour": self.colours, "shape": self.shapes, "place": self.places}[part]
            # the longest entry the words continue with ("in the top left" before "at the top"); the last of equal ones
            best = None
            for entry in entries:
                entry_words = entry.split()
                if words[at:at + len(entry_words)] == entry_words and (best is None or len(entry_words) >= best[1]):
                    best = (entry, len(entry_words))
            if best is None:
                return None
            found[part] = best[0]
            at += best[1]
        if at != len(words):
            return None
        return Attributes(**found)

    def write(self, attributes: Attributes) -> str:
        """The template filled in."""
        return " ".join(part[1] if isinstance(part, tuple) else getattr(attributes, part) for part in self.template)

    def stated(self, command: str):
        """(colour, shape) a command names, each None when it names none (whole words only, synonyms read as
        their word): "pick up the red one" → ("red", None)."""
        words = [self.synonyms.get(w, w) for w in re.findall(r"[^\W_]+", command.lower())]
        colour = next((w for w in words if w in self.colours), None)
        shape = next((w for w in words if w in self.shapes), None)
        return colour, shape

    def merge_close_look(self, whole: str, close: str, shape: str | None = None) -> str | None:
        """Size and place from the whole-frame description (they are relative to the frame), colour and shape
        from the close look (the shape `shape` when given: the joint shape); None when either text is not a
        description (then the whole-frame text stands)."""
        merged, look = self.parse(whole), self.parse(close)
        if merged is None or look is None:
            return None
        return self.write(merged._replace(colour=look.colour, shape=look.shape if shape is None else shape))

    def with_place(self, text: str, place: str) -> str:
        """`text` with its place replaced by `place` (unchanged when it is not a description)."""
        attributes = self.parse(text)
        return text if attributes is None else self.write(attributes._replace(place=place))
