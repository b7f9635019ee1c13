"""3-D accuracy of a `pixel-sail run --depth` JSONL against the renderer's truth_3d.jsonl: per command, the
centroid error of every placed object against the truth object its colour, shape and size words name.
Usage: python3 scripts/depth_accuracy.py RESULTS.jsonl models/sample/truth_3d.jsonl"""
import json, math, re, sys
results, truth = sys.argv[1], sys.argv[2]
truth = [json.loads(l) for l in open(truth)]
def named(command, objects):
    words = re.split(r"[^a-z0-9]+", command.lower())
    m = [o for o in objects if o["colour"] in words and o["shape"] in words
         and (not ({"small", "large"} & set(words)) or o["size"] in words)]
    return m[0] if len(m) == 1 else None
per = {}
for line in open(results):
    r = json.loads(line)
    objs = truth[r["seq"]]["objects"]
    for g in r["results"]:
        s = per.setdefault(g["command"], {"frames": 0, "found": 0, "placed": 0, "errors": [], "ids": set(), "notes": {}})
        s["frames"] += 1
        if not g["found"]:
            continue
        s["found"] += 1
        s["ids"].add(g["track_id"])
        if "position" not in g:
            s["notes"][g.get("position_note")] = s["notes"].get(g.get("position_note"), 0) + 1
            continue
        s["placed"] += 1
        o = named(g["command"], objs)
        if o and o["centroid"]:
            p = g["position"]
            s["errors"].append(math.dist([p["x"], p["y"], p["z"]], o["centroid"]))
allerr = []
for c, s in per.items():
    e = s["errors"]; allerr += e
    print(f"{c!r}: {s['frames']} frames, found {s['found']}, placed {s['placed']}, ids {sorted(s['ids'])}, "
          + (f"error mean {1e3*sum(e)/len(e):.2f} mm, max {1e3*max(e):.2f} mm over {len(e)}" if e else "no truth match")
          + (f", unplaced {s['notes']}" if s["notes"] else ""))
if allerr:
    allerr.sort()
    print(f"all: {len(allerr)} positions, mean {1e3*sum(allerr)/len(allerr):.2f} mm, "
          f"p95 {1e3*allerr[int(0.95*(len(allerr)-1))]:.2f} mm, max {1e3*allerr[-1]:.2f} mm")
