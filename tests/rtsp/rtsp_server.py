"""A local RTSP camera for the fault tests: GStreamer's RTSP server (Debian gir1.2-gst-rtsp-server-1.0,
python3-gi; run with the system python3) serving a live test pattern at rtsp://127.0.0.1:PORT/cam.

  rtsp_server.py --port 8554 [--size 320x240] [--fps 15]

Prints "ready PORT" once it listens, then serves until it is killed (SIGTERM/SIGINT end it at once:
the camera vanishes). Every client shares one live stream.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--fps", type=int, default=15)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # A key frame every second, so a client that reconnects decodes within a second.
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate={a.fps}/1 "
        f"! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={a.fps} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{a.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, loop.quit)
    print(f"ready {a.port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
