#!/usr/bin/python3
"""libtorrent reference peer for integration/bench (run with /usr/bin/python3,
which has python3-libtorrent). It listens on 127.0.0.1, or on --bind (an
address in a network namespace of the N benchmarks); no DHT, LSD, UPnP,
NAT-PMP or uTP; peers are given directly, no tracker.

  ltbench.py make SRC --out T.torrent          create a v1 torrent (SHA-1)
  ltbench.py seed --torrent T --dir PARENT --port P
      prints {"event": "listening"} once the data is checked, seeds until
      SIGTERM, then prints {"event": "done", "payload_up": ...}
  ltbench.py download --torrent T --dir D --port P --peer H:P [--peer ...]
      exits when complete ({"event": "done", "time_to_complete_s": ...});
      with --linger it keeps serving other peers until SIGTERM.
Every line on stdout is one JSON object.
"""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def session(ip, port):
    return lt.session({
        "listen_interfaces": "%s:%d" % (ip, port),
        "enable_dht": False, "dht_bootstrap_nodes": "", "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False, "enable_ip_notifier": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "min_reconnect_time": 1, "peer_connect_timeout": 5, "stop_tracker_timeout": 1,
        "alert_mask": int(lt.alert.category_t.error_notification),
    })


def cmd_make(a):
    t0 = time.monotonic()
    fs = lt.file_storage()
    lt.add_files(fs, os.path.abspath(a.src))
    ct = lt.create_torrent(fs, a.piece_size, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(a.src)))
    with open(a.out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    out({"event": "made", "elapsed_s": round(time.monotonic() - t0, 3),
         "files": fs.num_files(), "piece_size": ct.piece_length()})
    return 0


STOP = []


def cmd_run(a, mode):
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(1))
    signal.signal(signal.SIGINT, lambda *_: STOP.append(1))
    t0 = time.monotonic()
    ses = session(a.bind, a.port)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(a.torrent)
    atp.save_path = os.path.abspath(a.dir)
    flags = lt.torrent_flags.default_flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
    atp.flags = flags
    h = ses.add_torrent(atp)
    peers = []
    for p in a.peer or []:
        host, port = p.rsplit(":", 1)
        peers.append((host, int(port)))
    announced = False
    t_complete = None
    last_connect = 0.0
    deadline = t0 + a.timeout
    while not STOP and time.monotonic() < deadline:
        st = h.status()
        if st.errc.value() != 0:
            out({"event": "error", "error": st.errc.message()})
            return 2
        checking = st.state in (lt.torrent_status.checking_files,
                                lt.torrent_status.checking_resume_data)
        complete = st.is_seeding or st.is_finished
        now = time.monotonic()
        if mode == "seed" and not checking and not announced:
            if not complete:
                out({"event": "error", "error": "seed data incomplete", "progress": st.progress})
                return 2
            out({"event": "listening", "port": ses.listen_port(), "pid": os.getpid(),
                 "ready_s": round(now - t0, 3)})
            announced = True
        if mode == "download":
            if complete and t_complete is None:
                t_complete = now - t0
                out({"event": "complete", "time_to_complete_s": round(t_complete, 3)})
                if not a.linger:
                    break
            if peers and not checking and now - last_connect >= 1.0:
                connected = {tuple(p.ip) for p in h.get_peer_info()}
                for ep in peers:
                    if ep not in connected:
                        h.connect_peer(ep, 0, 0)   # flags 0: plain TCP, no uTP/MSE first
                last_connect = now
        ses.pop_alerts()
        ses.wait_for_alert(100)
    st = h.status()
    out({"event": "done", "complete": bool(st.is_seeding or st.is_finished),
         "elapsed_s": round(time.monotonic() - t0, 3),
         "time_to_complete_s": round(t_complete, 3) if t_complete is not None else None,
         "payload_up": st.total_payload_upload, "payload_down": st.total_payload_download,
         "total_wanted": st.total_wanted})
    ses.pause()
    if mode == "download" and t_complete is None:
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("src")
    mk.add_argument("--out", required=True)
    mk.add_argument("--piece-size", type=int, default=0, help="bytes, 0 = libtorrent's choice")
    for name in ("seed", "download"):
        p = sub.add_parser(name)
        p.add_argument("--torrent", required=True)
        p.add_argument("--dir", required=True, help="save path (parent of the torrent's name)")
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--bind", default="127.0.0.1", help="address to listen on")
        p.add_argument("--peer", action="append", metavar="HOST:PORT")
        p.add_argument("--timeout", type=float, default=600)
        p.add_argument("--linger", action="store_true", help="download: keep serving after completion")
    a = ap.parse_args()
    if a.mode == "make":
        return cmd_make(a)
    return cmd_run(a, a.mode)


if __name__ == "__main__":
    sys.exit(main())
