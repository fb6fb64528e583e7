#!/usr/bin/env python3
"""One ICY-metadata listener (`Icy-MetaData: 1`): connects to a mount on 127.0.0.1, skips
`icy-metaint` bytes of audio at a time and collects the metadata blocks in between
(StreamTitle='…';), with their arrival time. Loopback only, bounded in time.

fanout.py uses it to check that a title set through /admin/metadata reaches listeners.
By hand:  python3 benches/icecast/icy.py PORT MOUNT SECONDS [EXPECT_SUBSTRING]
          python3 benches/icecast/icy.py 18000 /live.mp3 10
Prints JSON: the status line, icy-metaint, and the metadata blocks seen.
"""
import json
import socket
import sys
import time

MAX_HEAD = 65536


def icy_titles(port, mount, seconds, stop_when=None, on_connected=None):
    """Listen for at most `seconds`; stop early once a block contains `stop_when`.
    `on_connected()` is called once the response head has been read."""
    t0 = time.monotonic()
    end = t0 + seconds
    titles = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {mount} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nIcy-MetaData: 1\r\n"
                  f"User-Agent: tidecast-bench-icy\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise RuntimeError(f"connection closed in the response head: {buf[:200]!r}")
            buf += d
            if len(buf) > MAX_HEAD:
                raise RuntimeError("response head too large")
        head, buf = buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n")[0].decode("latin-1")
        hdrs = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        metaint = int(hdrs.get("icy-metaint", "0") or 0)
        if on_connected:
            on_connected()
        if not metaint:
            return {"status": status, "icy_metaint": 0, "titles": []}
        s.settimeout(1.0)

        def fill(n):
            """read until buf holds n bytes (or the time is up); False on EOF"""
            nonlocal buf
            while len(buf) < n and time.monotonic() < end:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    return False
                buf += d
            return True

        eof = False
        while time.monotonic() < end:
            need = metaint
            while need and time.monotonic() < end:  # skip one audio block
                if not buf and not fill(1):
                    eof = True
                    break
                take = min(need, len(buf))
                buf, need = buf[take:], need - take
            if eof or need:
                break
            if not fill(1) or not buf:
                eof = True
                break
            mlen = buf[0] * 16
            if not fill(1 + mlen) or len(buf) < 1 + mlen:
                eof = len(buf) < 1 + mlen
                break
            meta, buf = buf[1:1 + mlen], buf[1 + mlen:]
            if mlen:
                txt = meta.rstrip(b"\0").decode("utf-8", "replace")
                titles.append({"t_s": round(time.monotonic() - t0, 3), "meta": txt, "wall": time.time()})
                if stop_when and stop_when in txt:
                    break
    out = {"status": status, "icy_metaint": metaint, "icy_name": hdrs.get("icy-name"), "titles": titles}
    if eof:
        out["eof"] = True
    return out


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    port, mount, secs = int(sys.argv[1]), sys.argv[2], min(float(sys.argv[3]), 300.0)
    print(json.dumps(icy_titles(port, mount, secs, sys.argv[4] if len(sys.argv) > 4 else None)))
