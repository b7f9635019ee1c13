"""The Python reference of the node's inference path: frame → masks, found/score, descriptions.

It runs either the PyTorch model or the exported ONNX graphs (onnxruntime) through the same steps the Rust
engine takes (models/README.md): preprocess, one vision pass, batched teacher-forced segment prompts,
mask head, crop + bilinear resize + threshold, and greedy decoding with the KV cache.
"""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from . import zoom
from .preprocess import preprocess, vp_grid
from .vocabulary import Vocabulary


class TorchBackend:
    def __init__(self, model):
        self.model = model.eval()
        self.tokens = model.tokens

    @torch.no_grad()
    def vision(self, pixels, vpm, vpi):
        return [t.numpy() for t in self.model.vision(*(torch.from_numpy(a) for a in (pixels, vpm, vpi)))]

    @torch.no_grad()
    def text(self, ids, pos, attn, pk, pv):
        vp = None
        if self.model.cfg.vp_mode == "pool":  # ablation: the last vision pass's pooled prompt feature
            vp = self.model.vp_pooled.expand(ids.shape[0], -1)
        return [t.numpy() for t in self.model.text(*(torch.from_numpy(a) for a in (ids, pos, attn, pk, pv)), vp)]

    @torch.no_grad()
    def mask_head(self, feats, seg):
        return self.model.mask_head(torch.from_numpy(feats), torch.from_numpy(seg)).numpy()


class OrtBackend:
    def __init__(self, model_dir, threads=0, spin=None, mem_pattern=None):
        """threads/spin/mem_pattern: ONNX Runtime intra-op threads (0 = its default), spin-waiting and memory
        pattern (None = its default); the benchmark sets them as the Rust engine does."""
        import onnxruntime as ort
        meta = json.load(open(f"{model_dir}/model.json"))
        self.tokens = meta["tokens"]
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        if spin is not None:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        if mem_pattern is not None:
            opts.enable_mem_pattern = mem_pattern
        self.s = {g: ort.InferenceSession(f"{model_dir}/{meta['files'][g]}", opts, providers=["CPUExecutionProvider"])
                  for g in ("vision", "text", "mask_head")}

    def vision(self, pixels, vpm, vpi):
        return self.s["vision"].run(None, {"pixels": pixels, "vp_masks": vpm, "vp_ids": vpi})

    def text(self, ids, pos, attn, pk, pv):
        return self.s["text"].run(None, {"input_ids": ids, "position_ids": pos, "attention_mask": attn,
                                         "past_keys": pk, "past_values": pv})

    def mask_head(self, feats, seg):
        return self.s["mask_head"].run(None, {"features": feats, "seg_hidden": seg})[0]


class Reference:
    def __init__(self, backend, tokenizer_path, templates, long_side=320, patch=32, max_new_tokens=16,
                 max_prompt_tokens=32, region_zoom=None, presence_margin=0.0, mask_refine=None, confirm_found=None,
                 wording=None, policy="published", vocabulary: Vocabulary | None = None):
        self.b, self.tok = backend, Tokenizer.from_file(tokenizer_path)
        # Rust's `--policy`: "published" runs what the node publishes around the model (the three operations
        # below: segment_frame, describe_object, describe_region); "model" is one pass and nothing around it
        assert policy in ("published", "model"), policy
        # the words the policy's passes read and write (model.json's "vocabulary"); the published policy needs them
        assert policy == "model" or vocabulary is not None, "the published policy needs a vocabulary"
        self.policy = policy
        self.vocabulary = vocabulary
        self.region_zoom = region_zoom  # model.json's "region_zoom"; None: one pass only
        # found when logit([SEG]) − logit(<none>) exceeds this (model.json postprocess.presence_margin)
        self.presence_margin = presence_margin
        self.mask_refine = mask_refine  # model.json's "mask_refine" (crop geometry as region_zoom's); None: off
        # model.json's "confirm_found" ({"min_log_odds": …, "max_score": …}; the crop is region_zoom's); None: off
        self.confirm_found = confirm_found if region_zoom else None
        self.wording = wording or {}  # model.json's "wording" (zoom.WORDING_DEFAULT); absent: the looks' words as they are
        self.ids, self.templates = backend.tokens, templates
        self.long_side, self.patch, self.max_new = long_side, patch, max_new_tokens
        self.max_prompt = max_prompt_tokens

    def prompt_ids(self, template, text=""):
        """Template prefix + the command's ids (cut to max_prompt_tokens) + template suffix."""
        pre, _, post = template.partition("{text}")
        enc = lambda s: self.tok.encode(s, add_special_tokens=False).ids if s else []
        return enc(pre) + enc(text)[: self.max_prompt] + enc(post)

    def encode(self, img, prompt=None, prompt_mask=None):
        h, w = img.shape[:2]
        pixels, (rw, rh) = preprocess(img, self.long_side, self.patch)
        gh, gw = pixels.shape[2] // self.patch, pixels.shape[3] // self.patch
        vpm = np.zeros((1, 1, gh, gw), np.float32)
        if prompt is not None:
            vpm[0, 0] = vp_grid(prompt, prompt_mask, w, h, rw, rh, self.patch)
        vpi = np.array([[self.ids["vp"][0]]], np.int64)
        pk, pv, feats = self.b.vision(pixels, vpm, vpi)
        return {"pk": pk, "pv": pv, "feats": feats, "grid": (gh, gw), "frame": (w, h), "resized": (rw, rh)}

    def _prefill(self, st, seqs):
        b, t = len(seqs), max(len(s) for s in seqs)
        s = st["pk"].shape[3]
        ids = np.full((b, t), self.ids["pad"], np.int64)
        attn = np.zeros((b, s + t), np.int64)
        attn[:, :s] = 1
        for i, q in enumerate(seqs):
            ids[i, :len(q)] = q
            attn[i, s:s + len(q)] = 1
        start = max(st["grid"]) + 2
        pos = np.broadcast_to(np.arange(t, dtype=np.int64) + start, (b, t)).copy()
        # one image for every prompt, or (batched.stack) one image per prompt
        pk, pv = (st["pk"], st["pv"]) if st["pk"].shape[1] == b > 1 else (np.repeat(st["pk"], b, 1), np.repeat(st["pv"], b, 1))
        return self.b.text(ids, pos, attn, pk, pv), attn, pos

    def segment(self, st, texts, vp=False):
        seqs = []
        for text in texts:
            tpl = self.templates["segment_vp"] if vp else self.templates["segment"]
            seqs.append(self.prompt_ids(tpl, text) + [self.ids["seg"]])
        (logits, hidden, _, _), _, _ = self._prefill(st, seqs)
        n = np.array([len(q) for q in seqs])
        rows = np.arange(len(seqs))
        dec = logits[rows, n - 2]
        margin = dec[:, self.ids["seg"]] - dec[:, self.ids["none"]]
        seg_h = hidden[rows, n - 1].astype(np.float32)
        ml = self.b.mask_head(st["feats"], seg_h)
        return [self._post(st, ml[i], float(margin[i])) for i in range(len(seqs))]

    def _post(self, st, logit_map, margin):
        crop, mask = self.upsample(st, logit_map)
        found = margin > self.presence_margin and bool(mask.any())
        if not found:
            mask = np.zeros_like(mask)
        return {"found": found, "score": float(1 / (1 + np.exp(-margin))), "margin": margin, "mask": mask,
                "logits": crop}

    @staticmethod
    def upsample(st, logit_map):
        """The mask head's stride-4 logits → (the part over the frame, the frame-size mask)."""
        w, h = st["frame"]
        rw, rh = st["resized"]
        crop = logit_map[: -(-rh // 4), : -(-rw // 4)]
        full = F.interpolate(torch.from_numpy(np.ascontiguousarray(crop))[None, None], size=(h, w),
                             mode="bilinear", align_corners=False)[0, 0].numpy()
        return crop, full > 0.0

    def segment_frame(self, img, st, texts):
        """What the node publishes for these commands on this frame (Rust `Grounder::segment_frame`): `segment`,
        then under the published policy `refine` each found mask and `confirm` it against the command (an object
        the closer look contradicts is not found)."""
        out = self.segment(st, texts)
        if self.policy == "model":
            return out
        for r, text in zip(out, texts):
            if r["found"]:
                r["mask"], r["refined"] = self.refine(img, r["mask"])
                ok, r["confirm"] = self.confirm_find(img, r, text)
                if not ok:
                    r["found"], r["mask"] = False, np.zeros_like(r["mask"])
        return out

    def confirm_find(self, img, r, command):
        """`confirm` for a `segment` result whose mask is the published one, when due: found, and scored below
        `confirm_found.max_score` (a find the first pass is that sure of is rarely wrong). (True, None) if not."""
        if not r["found"] or self.confirm_found is None:
            return True, None
        if r["score"] >= self.confirm_found.get("max_score", float("inf")):
            return True, None
        return self.confirm(img, r["mask"], command)

    def confirm(self, img, mask, command):
        """Does the closer look at a found object agree with the colour and shape the command names? The region
        zoom's crop around the mask is encoded with the mask as the visual prompt and `describe <vp_1>` decoded
        greedily up to the vocabulary's colour and shape words ("a {size} {colour} {shape}" on the tabletop);
        at the colour and the shape word, the command's word is contradicted when the model's choice beats it by
        more than model.json's `confirm_found.min_log_odds` (logits differ as log-probabilities do). The command's
        colour and shape are the vocabulary's words it names. Returns (agrees, the look: None when none ran, else
        its crop rect, words and the two log-odds against the command's words)."""
        if self.confirm_found is None or self.vocabulary is None:
            return True, None
        colour, shape = self.vocabulary.stated(command)
        if colour is None and shape is None:
            return True, None
        crop = zoom.crop_around(mask, self.region_zoom)
        if crop is None:
            return True, None
        rect, piece = crop
        x0, y0, x1, y1 = rect
        cst = self.encode(np.ascontiguousarray(img[y0:y1, x0:x1]), {}, np.ascontiguousarray(piece[y0:y1, x0:x1]))
        return self.weigh(rect, *self.describe_vp(cst, self.vocabulary.attribute_words()), colour, shape)

    def weigh(self, rect, text, ids, rows, colour, shape):
        """`confirm`'s verdict from the closer look's words (text, ids, logits rows) against the command's: the
        log-odds at the vocabulary's colour and shape steps; agrees when the look ended before them."""
        look = {"rect": rect, "text": text, "against": {}}
        vocab = self.vocabulary
        if len(ids) < vocab.attribute_words():
            return True, look
        for step, word in ((vocab.colour_step(), colour), (vocab.shape_step(), shape)):
            wid = self.tok.token_to_id(word) if word else None
            if wid is not None:
                look["against"][word] = float(rows[step].max() - rows[step][wid])
        return all(v <= self.confirm_found["min_log_odds"] for v in look["against"].values()), look

    def refine(self, img, mask):
        """A found object's mask, segmented again on a crop around it (model.json `mask_refine`): the crop puts
        the object at about a quarter of the view's width, so the mask head's stride-4 grid is finer on it; the
        crop is encoded with the mask as the visual prompt and `segment <vp_1>` gives the mask inside the crop,
        which replaces the first one there. Returns (mask, the crop rect or None when none ran)."""
        crop = zoom.crop_around(mask, self.mask_refine) if self.mask_refine else None
        if crop is None:
            return mask, None
        rect = crop[0]
        x0, y0, x1, y1 = rect
        cst = self.encode(np.ascontiguousarray(img[y0:y1, x0:x1]), {}, np.ascontiguousarray(mask[y0:y1, x0:x1]))
        close = self.segment(cst, [""], vp=True)[0]
        if not close["found"]:
            return mask, None
        out = mask.copy()
        out[y0:y1, x0:x1] = close["mask"]
        return out, rect

    def describe(self, st, texts, vp=False):
        seqs = [self.prompt_ids(self.templates["describe_vp"] if vp else self.templates["describe"], t)
                for t in texts]
        out, _ = self.generate(st, seqs, self.max_new)
        return [(self.tok.decode(o), o) for o in out]

    def describe_vp(self, st, max_new=None):
        """`describe <vp_1>` on a state encoded with a visual prompt: (text, ids, logits rows), as Rust's
        `Engine::describe_visual_prompt`."""
        (ids,), (rows,) = self.generate(st, [self.prompt_ids(self.templates["describe_vp"])], max_new or self.max_new)
        return self.tok.decode(ids), ids, rows

    def generate(self, st, seqs, max_new):
        """Greedy decoding of each prompt to `<|eot|>` or `max_new` tokens: (each row's ids, each row's logits
        rows — the distribution each of its tokens was chosen from)."""
        (logits, _, pk, pv), attn, pos = self._prefill(st, seqs)
        b = len(seqs)
        n = np.array([len(q) for q in seqs])
        last = logits[np.arange(b), n - 1]
        out, rows = [[] for _ in range(b)], [[] for _ in range(b)]
        done = np.zeros(b, bool)
        next_pos = pos[:, 0] + n
        for _ in range(max_new):
            nxt = last.argmax(-1)
            for i in range(b):
                if not done[i]:
                    if nxt[i] == self.ids["eot"]:
                        done[i] = True
                    else:
                        out[i].append(int(nxt[i]))
                        rows[i].append(last[i].astype(np.float32))
                        done[i] = len(out[i]) >= max_new
            if done.all():
                break
            attn = np.concatenate([attn, np.ones((b, 1), np.int64)], 1)
            logits, _, pk, pv = self.b.text(nxt.astype(np.int64)[:, None], next_pos[:, None].astype(np.int64),
                                            attn, pk, pv)
            last = logits[:, 0]
            next_pos = next_pos + 1
        return out, rows

    def describe_region(self, img, prompt, prompt_mask=None):
        """What the node answers for a clicked region: the prompt's description and mask from one vision
        pass, then `word_object` at that mask. Returns the text, the first pass's ids, the mask result and
        the zoom (None, or its crop rect, text and ids)."""
        st = self.encode(img, prompt, prompt_mask)
        text, ids, rows = self.describe_vp(st)
        seg = self.segment(st, [""], vp=True)[0]
        out = {"text": text, "ids": ids, "seg": seg, "zoom": None}
        if seg["found"] and self.policy == "published":
            out["text"], out["zoom"] = self.word_object(img, seg["mask"], text, ids, rows)
        return out

    def describe_object(self, img, mask):
        """What the node says about an object a command found, whose mask on this frame is `mask`: a vision pass
        with the mask as the visual prompt, its description, then `word_object` at the same mask. The words are
        about the object the published mask shows — describing by the command instead let the two disagree
        when the describe pass read the command differently (the model card, "Named objects: describe what the
        mask shows"). Returns the text, the first pass's ids and the zoom (None, or its crop rect, text, ids)."""
        st = self.encode(img, {}, mask)
        text, ids, rows = self.describe_vp(st)
        if self.policy == "model":
            return {"text": text, "ids": ids, "first": text, "zoom": None}
        out, look = self.word_object(img, mask, text, ids, rows)
        return {"text": out, "ids": ids, "first": text, "zoom": look}

    def word_object(self, img, mask, first, ids, rows):
        """The words the node publishes for an object first described as `first` (token ids `ids`, logits rows
        `rows`) whose frame-size mask is `mask`: `look_closer`'s colour and shape — with model.json
        `wording.joint_shape`, the shape both looks are surer of together (zoom.shape_scores) — and with
        `wording.place_from_mask` the vocabulary's place of the mask itself (zoom.place_of_mask: the place is
        defined by where the object is, and the mask is where the node says it is). Returns (text, zoom or None)."""
        text, look = self.look_closer(img, mask, first, (ids, rows))
        if self.wording.get("place_from_mask") and self.vocabulary is not None:
            place = zoom.place_of_mask(mask, self.vocabulary)
            if place is not None:
                text = self.vocabulary.with_place(text, place)
        return text, look

    def look_closer(self, img, mask, first, first_pass=None):
        """The region zoom's second pass for an object described as `first` with this frame-size mask: when
        the mask's largest piece is small, encode a crop around it with the piece as the visual prompt and take
        that pass's colour and shape (models/pixel_sail/zoom.py; the shape jointly with the first pass's, given
        as `first_pass` = (ids, logits rows), when model.json `wording.joint_shape`), the words parsed and written
        with the vocabulary. Returns (text, zoom or None)."""
        vocab = self.vocabulary
        crop = zoom.crop_around(mask, self.region_zoom) if self.region_zoom and vocab is not None else None
        if crop is None:
            return first, None
        rect, piece = crop
        x0, y0, x1, y1 = rect
        cst = self.encode(np.ascontiguousarray(img[y0:y1, x0:x1]), {}, np.ascontiguousarray(piece[y0:y1, x0:x1]))
        ztext, zids, zrows = self.describe_vp(cst)
        scores = None
        shape_ids = [self.tok.token_to_id(s) for s in vocab.shapes]
        if self.wording.get("joint_shape") and first_pass is not None and None not in shape_ids:
            scores = zoom.shape_scores(first_pass, (zids, zrows), shape_ids, vocab.shape_step())
        shape = None if scores is None else vocab.shapes[int(np.argmax(scores))]
        look = {"rect": rect, "text": ztext, "ids": zids,
                "shape_scores": None if scores is None else [round(float(v), 5) for v in scores]}
        return vocab.merge_close_look(first, ztext, shape) or first, look


def from_model_dir(model_dir, backend=None, policy="published"):
    """The reference for a model folder. The policy's passes read and write the words of model.json's
    `vocabulary` section (ValueError when it is malformed); a model.json without one runs the model alone
    (policy "model"), as the Rust node does."""
    meta = json.load(open(f"{model_dir}/model.json"))
    vocabulary = Vocabulary.from_spec(meta["vocabulary"]) if "vocabulary" in meta else None
    backend = backend or OrtBackend(model_dir)
    if vocabulary is None:
        policy = "model"
    return Reference(backend, f"{model_dir}/tokenizer.json", meta["templates"], meta["input"]["long_side"],
                     meta["config"]["patch"], meta["config"]["max_new_tokens"], meta["config"]["max_prompt_tokens"],
                     meta.get("region_zoom"), meta["postprocess"].get("presence_margin", 0.0), meta.get("mask_refine"),
                     meta.get("confirm_found"), meta.get("wording"), policy, vocabulary)
