"""Checks the Rust mirrors' CDR bytes and RIHS01 hashes against rosbags (pure Python, not ours).

usage: rosbags_wire.py CASES.json MSGS_DIR      (CASES written by tests/ros_msgs.rs)
       rosbags_wire.py --hashes MSGS_DIR        (print RIHS01 of pixel_sail_msgs and vision_msgs types)
Besides pixel_sail_msgs (MSGS_DIR), the test-only packages in tests/ros/interfaces/ that rosbags does not
already know (vision_msgs; its tf2_msgs/TFMessage is rosbags' own) are registered from their .msg files.
Each case: {"type": "pkg/msg/Name", "value": {...}, "cdr_hex": "...", "rihs01": "RIHS01_..." | null}.
For every case: rosbags serializes the value and must produce our bytes exactly; rosbags
deserializes our bytes and must get the value back; its hash_rihs01 must equal ours.
"""
import json
import sys
from pathlib import Path

import numpy as np
from rosbags.typesys import Stores, get_typestore, get_types_from_msg


# Standard services the node serves (lifecycle_msgs), as copied from their wheels.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ros_std_msgs"


def typestore(msgs_dir: Path):
    ts = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for f in sorted((msgs_dir / "msg").glob("*.msg")):
        types.update(get_types_from_msg(f.read_text(), f"pixel_sail_msgs/msg/{f.stem}"))
    srvs = [("pixel_sail_msgs", f) for f in sorted((msgs_dir / "srv").glob("*.srv"))]
    srvs += [(f.parent.parent.name, f) for f in sorted(FIXTURES.glob("*/srv/*.srv"))]
    for pkg, f in srvs:
        req, resp = ("\n" + f.read_text()).split("\n---", 1)  # an empty request starts the file with ---
        for half, text in (("Request", req), ("Response", resp)):
            # get_types_from_msg files any name under "<pkg>/msg/"; rosidl names it "<pkg>/srv/<Srv>_<half>",
            # and the name is part of the RIHS01 input.
            for parsed in get_types_from_msg(text, f"{pkg}/msg/{f.stem}_{half}").values():
                types[f"{pkg}/srv/{f.stem}_{half}"] = parsed
    for pkg in sorted((Path(__file__).resolve().parent / "interfaces").iterdir()):
        for f in sorted((pkg / "msg").glob("*.msg")) if pkg.is_dir() else []:
            name = f"{pkg.name}/msg/{f.stem}"
            if name not in ts.types:
                types.update(get_types_from_msg(f.read_text(), name))
    ts.register(types)
    return ts


def build(ts, typename, value):
    """A rosbags message object of `typename` from the JSON value serde wrote."""
    cls = ts.types[typename]
    fields = ts.fielddefs[typename][1]
    kwargs = {}
    for name, (kind, detail) in fields:
        v = value[name]
        kwargs[name] = convert(ts, kind, detail, v)
    return cls(**kwargs)


def convert(ts, kind, detail, v):
    # rosbags field kinds: 1 BASE, 2 NAME (nested), 3 ARRAY (fixed), 4 SEQUENCE
    if kind == 1:
        return v
    if kind == 2:
        return build(ts, detail, v)
    (sub_kind, sub_detail), *_ = detail
    if sub_kind == 1:
        base = sub_detail[0]
        if base in NUMPY:
            return np.array(v, dtype=NUMPY[base])
        return list(v)
    return [convert(ts, sub_kind, sub_detail, x) for x in v]


NUMPY = {"uint8": np.uint8, "int8": np.int8, "uint16": np.uint16, "int16": np.int16, "uint32": np.uint32,
         "int32": np.int32, "uint64": np.uint64, "int64": np.int64, "float32": np.float32, "float64": np.float64,
         "bool": np.bool_}


def plain(obj):
    """A rosbags object back to JSON-like values, for comparing with serde's view."""
    if hasattr(obj, "__dataclass_fields__"):
        # Constants (KIND_POINT, OK, ...) are class attributes in rosbags; fields are lower case.
        return {k: plain(getattr(obj, k)) for k in obj.__dataclass_fields__ if k != "__msgtype__" and not k.isupper()}
    if isinstance(obj, np.ndarray):
        return [plain(x) for x in obj.tolist()]
    if isinstance(obj, (list, tuple)):
        return [plain(x) for x in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def main():
    if sys.argv[1] == "--hashes":
        ts = typestore(Path(sys.argv[2]))
        for name in sorted(ts.types):
            if name.startswith(("pixel_sail_msgs/", "vision_msgs/")):
                print(name, ts.hash_rihs01(name))
        return 0
    cases = json.loads(Path(sys.argv[1]).read_text())
    ts = typestore(Path(sys.argv[2]))
    failures = []
    for c in cases:
        ty = c["type"]
        ours = bytes.fromhex(c["cdr_hex"])
        theirs = bytes(ts.serialize_cdr(build(ts, ty, c["value"]), ty))
        if theirs != ours:
            first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            failures.append(f"{ty}: bytes differ at {first} (ours {len(ours)} B, rosbags {len(theirs)} B)\n"
                            f"  ours    {ours[max(0, first - 8):first + 16].hex()}\n  rosbags {theirs[max(0, first - 8):first + 16].hex()}")
        decoded = plain(ts.deserialize_cdr(ours, ty))
        if json.dumps(decoded, sort_keys=True) != json.dumps(plain_json(c["value"]), sort_keys=True):
            failures.append(f"{ty}: rosbags decodes our bytes to {decoded}, expected {c['value']}")
        if c.get("rihs01") is not None and ts.hash_rihs01(ty) != c["rihs01"]:
            failures.append(f"{ty}: RIHS01 ours {c['rihs01']} != rosbags {ts.hash_rihs01(ty)}")
        print(f"{ty}: {len(ours)} B" + (f", {c['rihs01'][:20]}…" if c.get("rihs01") else ""))
    if failures:
        print("\n".join(failures))
        return 1
    print(f"{len(cases)} cases agree")
    return 0


def plain_json(v):
    if isinstance(v, dict):
        return {k: plain_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain_json(x) for x in v]
    return v


if __name__ == "__main__":
    sys.exit(main())
