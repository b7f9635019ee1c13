"""Drives `pixel-sail run --lifecycle` through every lifecycle transition from a real rclpy client
(lifecycle_msgs from the PyPI wheel), the way `ros2 lifecycle set|get` does, with the real model
and the sample clip as source. Starts the node itself, so it sees the log and the exit status.

  check_lifecycle.py --bin target/debug/pixel-sail --model models/tiny --source models/sample/tabletop.webm
                     --workdir out/lifecycle [--report out.json]

Checks, in order: the graph lists the lifecycle services and ~/transition_event with their types;
starts unconfigured; an invalid transition is refused; configure with a model directory that cannot be
read errors: error processing returns the node to unconfigured, one error line gives the reason; configure (model loaded) -> inactive (nothing published) -> activate
(detections flow) -> deactivate (they stop; a command set is kept for later, ~/describe refused) ->
activate (they resume with that command, the model not reloaded) -> deactivate -> cleanup (resident
memory drops by at least half of what configure added) -> configure (reloaded) -> activate -> shutdown:
the process exits 0 and the JSONL recording ends on a whole line; /diagnostics names the state; the
transition events are exactly the standard ones. Then a second node, made managed by the parameter
(`-p managed:=true`) with a source that cannot start: activate errors, error processing tears down the
model and returns to unconfigured (one error line, the events through errorprocessing); configure again,
shutdown from inactive exits 0. Prints one line per check and exits 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State, Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetAvailableStates, GetAvailableTransitions, GetState
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from geometry_msgs.msg import Point
from pixel_sail_msgs.msg import GroundingArray
from pixel_sail_msgs.srv import Describe, SetPrompts

RESULTS = []
NODE = "managed_seg"
LIFECYCLE_SERVICES = [("change_state", "ChangeState"), ("get_state", "GetState"),
                      ("get_available_states", "GetAvailableStates"),
                      ("get_available_transitions", "GetAvailableTransitions"),
                      ("get_transition_graph", "GetAvailableTransitions")]


def check(name, ok, detail=""):
    RESULTS.append({"check": name, "ok": bool(ok), "detail": str(detail)[:300]})
    print(f"{time.strftime('%H:%M:%S')} {'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


class Driver:
    def __init__(self, a, proc, name, log):
        self.a, self.proc, self.name, self.log_path = a, proc, name, log
        self.node = rclpy.create_node(f"checker_of_{name}")
        base = f"/{name}"
        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.events, self.detections = [], []
        self.node.create_subscription(TransitionEvent, f"{base}/transition_event", self.events.append, rel)
        self.node.create_subscription(GroundingArray, f"{base}/detections", self.detections.append, rel)
        self.diag = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, rel)
        self.set_prompts = self.node.create_client(SetPrompts, f"{base}/set_prompts")
        self.describe = self.node.create_client(Describe, f"{base}/describe")
        self.change = self.node.create_client(ChangeState, f"{base}/change_state")
        self.get = self.node.create_client(GetState, f"{base}/get_state")
        self.states = self.node.create_client(GetAvailableStates, f"{base}/get_available_states")
        self.transitions = self.node.create_client(GetAvailableTransitions, f"{base}/get_available_transitions")

    def on_diag(self, msg):
        for s in msg.status:
            if s.name == f"{self.name}: pipeline":
                self.diag = {kv.key: kv.value for kv in s.values}

    def diagnostics_say(self, lifecycle_state, model_state):
        """Waits (1 Hz publisher) until /diagnostics shows these states; returns what it last showed."""
        want = {"lifecycle_state": lifecycle_state, "model_state": model_state}
        ok = self.spin_until(lambda: all(self.diag.get(k) == v for k, v in want.items()), 5.0)
        return ok, {k: self.diag.get(k) for k in want}

    def spin_until(self, cond, timeout):
        end = time.time() + timeout
        while time.time() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if cond():
                return True
        return False

    def call(self, client, request, timeout=60.0):
        if not client.wait_for_service(timeout_sec=20.0):
            return None
        fut = client.call_async(request)
        self.spin_until(fut.done, timeout)
        return fut.result() if fut.done() else None

    def state(self):
        r = self.call(self.get, GetState.Request())
        return (r.current_state.id, r.current_state.label) if r else None

    def available(self):
        r = self.call(self.transitions, GetAvailableTransitions.Request())
        return [t.transition for t in r.available_transitions] if r else []

    def set(self, label):
        """As `ros2 lifecycle set`: the transition with this label among the available ones."""
        match = [t for t in self.available() if t.label == label]
        if not match:
            return False
        r = self.call(self.change, ChangeState.Request(transition=match[0]))
        return bool(r and r.success)

    def set_id(self, tid):
        """A raw ChangeState by id, label empty."""
        r = self.call(self.change, ChangeState.Request(transition=Transition(id=tid)))
        return bool(r and r.success)

    def detections_during(self, secs):
        start = len(self.detections)
        self.spin_until(lambda: False, secs)
        return len(self.detections) - start

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_exit(self):
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            return None


def expect_state(d, name, sid, label):
    got = d.state()
    return check(f"{name}: state is {label}", got == (sid, label), got)


def run(a, d):
    S = State
    rss = {}  # resident memory after each step, printed for BENCHMARKS.md
    check("lifecycle services are up", d.change.wait_for_service(timeout_sec=30.0))
    expect_state(d, "start", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")
    check("/diagnostics: unconfigured, model unloaded", *d.diagnostics_say("unconfigured", "unloaded"))

    # `ros2 lifecycle nodes` lists a node when the graph shows it and its get_state service with that type.
    def listed():
        services = dict(d.node.get_service_names_and_types())
        topics = dict(d.node.get_topic_names_and_types())
        return ((NODE, "/") in d.node.get_node_names_and_namespaces()
                and "lifecycle_msgs/msg/TransitionEvent" in topics.get(f"/{NODE}/transition_event", [])
                and all(f"lifecycle_msgs/srv/{t}" in services.get(f"/{NODE}/{s}", []) for s, t in LIFECYCLE_SERVICES))
    check("graph: the node, its lifecycle services and ~/transition_event with their types "
          "(what `ros2 lifecycle nodes` looks up)",
          d.spin_until(listed, 10), sorted(s for s in dict(d.node.get_service_names_and_types()) if NODE in s))
    rss["unconfigured"] = rss_mib(d.proc.pid)
    r = d.call(d.states, GetAvailableStates.Request())
    labels = [s.label for s in r.available_states] if r else []
    check("get_available_states lists the 11 standard states", len(labels) == 11 and "errorprocessing" in labels, labels)
    check("unconfigured offers configure and shutdown", [t.label for t in d.available()] == ["configure", "shutdown"])
    check("an invalid transition (activate while unconfigured) is refused", not d.set_id(Transition.TRANSITION_ACTIVATE))
    expect_state(d, "after the refused transition", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")

    check("configure with an unreadable model directory fails", not d.set("configure"))
    expect_state(d, "after error processing", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")
    errors = [ln for ln in d.log().splitlines() if "ERROR" in ln]
    check("one error line gives the reason, naming the model directory",
          len(errors) == 1 and f"cannot load the model from {Path(a.workdir).resolve() / 'model'}" in errors[0], errors)
    check("/diagnostics after error processing: unconfigured, model unloaded",
          *d.diagnostics_say("unconfigured", "unloaded"))

    os.symlink(Path(a.model).resolve(), Path(a.workdir, "model"))
    check("configure loads the model", d.set("configure"))
    expect_state(d, "configured", S.PRIMARY_STATE_INACTIVE, "inactive")
    check("inactive: nothing is published", d.detections_during(2.0) == 0)
    check("/diagnostics: inactive, model ready", *d.diagnostics_say("inactive", "ready"))
    rss["inactive"] = rss_mib(d.proc.pid)

    check("activate", d.set_id(Transition.TRANSITION_ACTIVATE))
    expect_state(d, "activated", S.PRIMARY_STATE_ACTIVE, "active")
    check("active: detections flow", d.spin_until(lambda: len(d.detections) >= 3, 30), len(d.detections))
    check("/diagnostics: active", *d.diagnostics_say("active", "ready"))
    d.spin_until(lambda: False, 1.0)
    rss["active"] = rss_mib(d.proc.pid)

    check("deactivate", d.set("deactivate"))
    expect_state(d, "deactivated", S.PRIMARY_STATE_INACTIVE, "inactive")
    d.spin_until(lambda: False, 0.5)
    check("inactive again: detections stop", d.detections_during(2.0) == 0)
    rss["deactivated"] = rss_mib(d.proc.pid)
    r = d.call(d.set_prompts, SetPrompts.Request(prompts=["the blue square"]))
    check("inactive: ~/set_prompts is accepted for the next activation",
          r is not None and r.accepted and "next activation" in r.message, r and r.message)
    r = d.call(d.describe, Describe.Request(kind=Describe.Request.KIND_POINT, point=Point(x=100.0, y=100.0)))
    check("inactive: ~/describe is refused with the reason", r is not None and not r.success and "not active" in r.message,
          r and r.message)

    check("activate again", d.set("activate"))
    n = len(d.detections)
    check("detections resume", d.spin_until(lambda: len(d.detections) >= n + 3, 30), len(d.detections) - n)
    commands = [[g.command for g in m.groundings] for m in d.detections[n:]]
    check("they carry the command set while inactive", commands and all(c == ["the blue square"] for c in commands),
          commands[:2])
    log = d.log()
    check("resumed without reloading the model",
          log.count("model loaded (load #") == 1 and log.count("reusing the loaded model (load #1)") == 2)

    check("deactivate before cleanup", d.set("deactivate"))
    before = rss_mib(d.proc.pid)
    check("cleanup", d.set("cleanup"))
    after = rss_mib(d.proc.pid)
    expect_state(d, "cleaned up", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")
    # The model is what configure added; at least half of it must go back to the OS (glibc keeps freed
    # heap without the node's malloc_trim: then only ~8 of ~52 MiB went).
    model = rss["inactive"] - rss["unconfigured"]
    check("cleanup gives back at least half of the model's memory", before - after >= 0.5 * model,
          f"{before:.1f} MiB -> {after:.1f} MiB; configure added {model:.1f} MiB")
    rss["before cleanup"], rss["after cleanup"] = before, after

    check("configure again reloads the model", d.set("configure") and "model loaded (load #2)" in d.log())
    rss["configured again"] = rss_mib(d.proc.pid)
    print("resident memory (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in rss.items()), flush=True)
    check("activate after reconfigure", d.set("activate"))
    n = len(d.detections)
    check("detections flow after reconfigure", d.spin_until(lambda: len(d.detections) >= n + 3, 30))

    check("shutdown from active", d.set("shutdown"))
    code = d.wait_exit()
    check("shutdown ends the process with status 0", code == 0, code)
    lines = Path(a.workdir, "results.jsonl").read_text().splitlines(keepends=True)
    whole = bool(lines) and lines[-1].endswith("\n") and all(json.loads(x) is not None for x in lines)
    check("the JSONL recording is finalised (whole lines)", whole, f"{len(lines)} lines")

    d.spin_until(lambda: False, 0.5)
    T = Transition
    u, i, ac, f = (S.PRIMARY_STATE_UNCONFIGURED, S.PRIMARY_STATE_INACTIVE, S.PRIMARY_STATE_ACTIVE,
                   S.PRIMARY_STATE_FINALIZED)
    cfg, cln, act, deact, shut = (S.TRANSITION_STATE_CONFIGURING, S.TRANSITION_STATE_CLEANINGUP,
                                  S.TRANSITION_STATE_ACTIVATING, S.TRANSITION_STATE_DEACTIVATING,
                                  S.TRANSITION_STATE_SHUTTINGDOWN)
    configure = [(T.TRANSITION_CONFIGURE, u, cfg), (T.TRANSITION_ON_CONFIGURE_SUCCESS, cfg, i)]
    activate = [(T.TRANSITION_ACTIVATE, i, act), (T.TRANSITION_ON_ACTIVATE_SUCCESS, act, ac)]
    deactivate = [(T.TRANSITION_DEACTIVATE, ac, deact), (T.TRANSITION_ON_DEACTIVATE_SUCCESS, deact, i)]
    err = S.TRANSITION_STATE_ERRORPROCESSING
    expected = ([(T.TRANSITION_CONFIGURE, u, cfg), (T.TRANSITION_ON_CONFIGURE_ERROR, cfg, err),
                 (T.TRANSITION_ON_ERROR_SUCCESS, err, u)]
                + configure + activate + deactivate + activate + deactivate
                + [(T.TRANSITION_CLEANUP, i, cln), (T.TRANSITION_ON_CLEANUP_SUCCESS, cln, u)]
                + configure + activate
                + [(T.TRANSITION_ACTIVE_SHUTDOWN, ac, shut), (T.TRANSITION_ON_SHUTDOWN_SUCCESS, shut, f)])
    got = [(e.transition.id, e.start_state.id, e.goal_state.id) for e in d.events]
    check("transition events are the standard ones, in order", got == expected, got)
    labels_ok = all(e.transition.label and e.start_state.label and e.goal_state.label for e in d.events)
    check("transition events carry labels", labels_ok)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--report")
    a = ap.parse_args()
    work = Path(a.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    for f in ("model", "results.jsonl"):
        if (work / f).is_symlink() or (work / f).exists():
            (work / f).unlink()
    env = dict(os.environ, ROS_DISTRO="jazzy")
    rclpy.init()
    # 1. Every transition, from the `--lifecycle` flag.
    run_node(a, env, NODE, work / "node.log", run,
             ["--lifecycle", "--model", str(work / "model"), "--source", a.source, "--loop", "--realtime",
              "--prompt", "the red cup", "--jsonl", str(work / "results.jsonl")])
    # 2. A source that cannot start, from the `managed` parameter: activate errors, error processing -> unconfigured.
    run_node(a, env, "managed_bad_source", work / "node_bad_source.log", run_bad_source,
             ["--model", a.model, "--source", str(work / "missing.webm")], ["-p", "managed:=true"])
    rclpy.shutdown()
    failed = [r for r in RESULTS if not r["ok"]]
    if a.report:
        Path(a.report).write_text(json.dumps(RESULTS, indent=1))
    print(f"{len(RESULTS) - len(failed)}/{len(RESULTS)} lifecycle checks passed", flush=True)
    return 1 if failed else 0


def run_node(a, env, name, log_path, steps, run_args, ros_args=()):
    """Starts `pixel-sail run RUN_ARGS --ros-args -r __node:=NAME ROS_ARGS`, runs `steps` against it, ends it."""
    failed_before = sum(not r["ok"] for r in RESULTS)
    cmd = [a.bin, "run", "--no-progress", *run_args, "--ros-args", "-r", f"__node:={name}", *ros_args]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    d = Driver(a, proc, name, log_path)
    try:
        steps(a, d)
    except Exception as e:  # a crash of the checker is a failure, with the node's log tail
        check(f"{name}: checker ran to the end", False, repr(e))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        d.node.destroy_node()
    if sum(not r["ok"] for r in RESULTS) > failed_before:
        print(f"{name} log tail:\n" + "".join(log_path.read_text(errors="replace").splitlines(True)[-25:]))


def run_bad_source(a, d):
    S, T = State, Transition
    check("managed:=true (parameter): lifecycle services are up", d.change.wait_for_service(timeout_sec=30.0))
    expect_state(d, "managed:=true start", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")
    check("configure (bad source)", d.set("configure"))
    check("activate with a source that cannot start fails", not d.set("activate"))
    expect_state(d, "after error processing", S.PRIMARY_STATE_UNCONFIGURED, "unconfigured")
    errors = [ln for ln in d.log().splitlines() if "ERROR" in ln]
    check("one error line gives the reason, naming the source",
          len(errors) == 1 and "cannot start the pipeline: bad source" in errors[0] and "missing.webm" in errors[0],
          errors)
    check("error processing tore down the model", "error processing tore down capture, worker and model" in d.log()
          and "cleanup: model unloaded" in d.log())
    check("/diagnostics after error processing: unconfigured, model unloaded",
          *d.diagnostics_say("unconfigured", "unloaded"))
    check("configure again after error processing", d.set("configure") and "model loaded (load #2)" in d.log())
    check("shutdown from inactive", d.set("shutdown"))
    code = d.wait_exit()
    check("shutdown from inactive ends the process with status 0", code == 0, code)
    d.spin_until(lambda: False, 0.5)
    u, i, f = S.PRIMARY_STATE_UNCONFIGURED, S.PRIMARY_STATE_INACTIVE, S.PRIMARY_STATE_FINALIZED
    cfg, act, shut = S.TRANSITION_STATE_CONFIGURING, S.TRANSITION_STATE_ACTIVATING, S.TRANSITION_STATE_SHUTTINGDOWN
    err = S.TRANSITION_STATE_ERRORPROCESSING
    configure = [(T.TRANSITION_CONFIGURE, u, cfg), (T.TRANSITION_ON_CONFIGURE_SUCCESS, cfg, i)]
    expected = configure + [(T.TRANSITION_ACTIVATE, i, act), (T.TRANSITION_ON_ACTIVATE_ERROR, act, err),
                            (T.TRANSITION_ON_ERROR_SUCCESS, err, u)] + configure + [
                (T.TRANSITION_INACTIVE_SHUTDOWN, i, shut), (T.TRANSITION_ON_SHUTDOWN_SUCCESS, shut, f)]
    got = [(e.transition.id, e.start_state.id, e.goal_state.id) for e in d.events]
    check("bad source: transition events go through errorprocessing", got == expected, got)

if __name__ == "__main__":
    sys.exit(main())
