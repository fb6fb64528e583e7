#!/usr/bin/python3
"""An IP camera on loopback for the relay tests.

GStreamer's RTSP server (the same library many cameras and NVRs embed) serving a live test
picture as H.264 and a 440 Hz tone as AAC at rtsp://127.0.0.1:<port>/cam, over RTP on UDP
or interleaved in the RTSP connection (TCP), whichever the client asks for.

Usage: rtsp_camera.py <port>
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=smpte "
    "! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=500 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true freq=440 "
    "! audioconvert ! audioresample ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )"
)


def main() -> None:
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        sys.exit("the RTSP server did not start")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
