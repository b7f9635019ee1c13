"""Train the word-level tokenizer on the generated text and save it as tokenizer.json."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers, decoders

from .expressions import describe_object, no_target_expression, referring_expression, wrap
from .tabletop import sample_scene
from .vocab import SPECIAL_TOKENS, TEMPLATES


def corpus(n_scenes: int = 3000, seed: int = 10_000_000):
    rng = np.random.default_rng(seed)
    for s in range(n_scenes):
        scene = sample_scene(seed + s)
        for i in range(len(scene.objects)):
            r = referring_expression(scene, i, rng)
            if r:
                yield wrap(r[0], rng)
            yield describe_object(scene, i)
        yield wrap(no_target_expression(scene, rng), rng)
    for t in TEMPLATES.values():
        yield t.replace("{text}", "")
    for w in ("pick up the big one", "the large object", "describe"):
        yield w


def build(n_scenes: int = 3000) -> Tokenizer:
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with single spaces
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, min_frequency=1)
    tok.train_from_iterator(corpus(n_scenes), trainer)
    return tok


def token_ids(tok: Tokenizer) -> dict:
    get = tok.token_to_id
    return {
        "pad": get("<pad>"), "unk": get("<unk>"), "user": get("<|user|>"), "assistant": get("<|assistant|>"),
        "eot": get("<|eot|>"), "vision": get("<vision>"), "vision_end": get("</vision>"),
        "vpatch": get("<vpatch>"), "seg": get("[SEG]"), "none": get("<none>"),
        "vp": [get(f"<vp_{i + 1}>") for i in range(4)],
    }
