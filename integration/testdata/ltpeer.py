#!/usr/bin/python3
"""ltpeer.py - a libtorrent-rasterbar 2.0 peer for distswarm's interop tests.

Run it with /usr/bin/python3 (Debian's python3-libtorrent). Loopback only:
DHT, LSD, UPnP, NAT-PMP and uTP are off, peers are connected explicitly
with --peer. Every run is bounded by --timeout. With --lsd (Local Service
Discovery on, any --listen-ip) it runs only inside a network namespace
other than the machine's own, as the LAN tests create.

  make PATH --out T [--v1-only]   create a torrent (hybrid v1+v2 by default)
  magnet T                        print the torrent's magnet URI
  seed (--torrent T | --magnet M) --dir D [--peer H:P]...
  download (--torrent T | --magnet M) --dir D [--peer H:P]...

seed and download print {"event": "listening", "port": N} once listening
and a final {"event": "done", "complete": bool, ...} line on stdout.
Exit codes: 0 goal reached (download complete, or seeding ended by a
signal), 1 download not complete within --timeout, 2 error.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import libtorrent as lt


def out(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def err(*a):
    print(*a, file=sys.stderr, flush=True)


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def hashes(ti):
    ih = ti.info_hashes()
    return (str(ih.v1) if ih.has_v1() else None,
            str(ih.v2) if ih.has_v2() else None)


def cmd_make(a):
    fs = lt.file_storage()
    path = os.path.abspath(a.path)
    lt.add_files(fs, path)
    if fs.num_files() == 0:
        err("no files under", path)
        return 2
    flags = lt.create_torrent.v1_only if a.v1_only else 0
    ct = lt.create_torrent(fs, a.piece_size, flags)
    ct.set_creator("distswarm ltpeer.py libtorrent " + lt.__version__)
    lt.set_piece_hashes(ct, os.path.dirname(path))
    with open(a.out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(a.out)
    v1, v2 = hashes(ti)
    fst = ti.files()
    pads = sum(1 for i in range(fst.num_files())
               if fst.file_flags(i) & lt.file_storage.flag_pad_file)
    out({"event": "made", "info_hash_v1": v1, "info_hash_v2": v2,
         "piece_length": ti.piece_length(), "num_files": ti.num_files(),
         "pad_files": pads, "magnet": lt.make_magnet_uri(ti)})
    return 0


def cmd_magnet(a):
    print(lt.make_magnet_uri(lt.torrent_info(a.torrent)))
    return 0


STOP = []


def cmd_run(a):
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(1))
    signal.signal(signal.SIGINT, lambda *_: STOP.append(1))
    os.makedirs(a.dir, exist_ok=True)
    t0 = time.monotonic()
    ses = lt.session({
        # settings at construction, so nothing starts before they apply
        "listen_interfaces": "%s:%d" % (a.listen_ip, a.port),
        "enable_dht": False, "dht_bootstrap_nodes": "",
        "enable_lsd": bool(a.lsd), "enable_upnp": False, "enable_natpmp": False,
        "enable_ip_notifier": False,
        "allow_multiple_connections_per_ip": True,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "min_reconnect_time": 1, "peer_connect_timeout": 5,
        "stop_tracker_timeout": 1,
        "alert_mask": int(lt.alert.category_t.error_notification |
                          lt.alert.category_t.status_notification),
    })
    if a.torrent:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(a.torrent)
    else:
        atp = lt.parse_magnet_uri(a.magnet)
    atp.save_path = os.path.abspath(a.dir)
    atp.trackers = []
    atp.url_seeds = []
    flags = lt.torrent_flags.default_flags
    flags &= ~lt.torrent_flags.auto_managed
    flags &= ~lt.torrent_flags.paused
    flags |= lt.torrent_flags.override_trackers | lt.torrent_flags.override_web_seeds
    atp.flags = flags
    h = ses.add_torrent(atp)

    port = None
    checked = [False]
    while port is None and time.monotonic() < t0 + 10:
        for al in ses.pop_alerts():
            if isinstance(al, lt.torrent_checked_alert):
                checked[0] = True
            if isinstance(al, lt.listen_succeeded_alert) and \
                    al.socket_type == lt.listen_succeded_alert_socket_type_t.tcp:
                port = al.port
            elif isinstance(al, lt.listen_failed_alert):
                err("listen failed:", al.message())
        if port is None:
            ses.wait_for_alert(100)
    if port is None:
        port = ses.listen_port()
    out({"event": "listening", "port": port, "ip": a.listen_ip})

    peers = [hostport(p) for p in a.peer or []]
    last_connect = 0.0
    last_status = 0.0
    reason, error = None, None
    deadline = t0 + a.timeout
    while True:
        now = time.monotonic()
        for al in ses.pop_alerts():
            if isinstance(al, lt.torrent_checked_alert):
                checked[0] = True
            if a.verbose or isinstance(al, lt.torrent_error_alert):
                err("[alert]", type(al).__name__, al.message())
        st = h.status()  # after the alerts: a checked torrent shows its state
        if st.errc.value() != 0:
            reason, error = "error", "torrent error: %s (file %d)" % (st.errc.message(), st.error_file)
            break
        checking = st.state in (lt.torrent_status.checking_files,
                                lt.torrent_status.checking_resume_data)
        complete = st.has_metadata and not checking and st.is_seeding
        if a.mode == "seed" and checked[0] and not st.is_seeding:
            reason, error = "error", "seed: data under %s is incomplete (%.1f%%)" % (a.dir, st.progress * 100)
            break
        if a.mode == "download" and complete:
            reason = "complete"
            break
        if peers and not checking and now - last_connect >= 1.0:
            connected = {(p.ip[0], p.ip[1]) for p in h.get_peer_info()}
            for ep in peers:
                if ep not in connected:
                    try:
                        h.connect_peer(ep, 0, 0)  # flags 0: plain TCP
                    except Exception as e:
                        err("connect_peer %s: %s" % (ep, e))
            last_connect = now
        if now - last_status >= 2.0:
            err("[%5.1fs] %s %.1f%% peers=%d down=%d up=%d" % (
                now - t0, st.state, st.progress * 100, st.num_peers,
                st.total_payload_download, st.total_payload_upload))
            last_status = now
        if STOP:
            reason = "signal"
            break
        if now >= deadline:
            reason = "timeout"
            break
        ses.wait_for_alert(100)

    st = h.status()
    v1 = v2 = None
    if st.has_metadata:
        ih = st.info_hashes
        v1 = str(ih.v1) if ih.has_v1() else None
        v2 = str(ih.v2) if ih.has_v2() else None
    res = {"event": "done", "mode": a.mode, "reason": reason, "error": error,
           "complete": bool(st.has_metadata and st.is_seeding),
           "has_metadata": st.has_metadata,
           "payload_up": st.total_payload_upload,
           "payload_down": st.total_payload_download,
           "failed_bytes": st.total_failed_bytes,
           "info_hash_v1": v1, "info_hash_v2": v2,
           "elapsed_s": round(time.monotonic() - t0, 3)}
    if a.mode == "download" and complete:
        # make sure every byte is on disk before the caller reads the files
        h.flush_cache()
        ses.remove_torrent(h)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if any(isinstance(al, lt.torrent_removed_alert) for al in ses.pop_alerts()):
                break
            ses.wait_for_alert(100)
    ses.pause()
    del ses
    out(res)
    if reason == "error":
        return 2
    if a.mode == "download":
        return 0 if reason == "complete" else 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("path")
    mk.add_argument("--out", required=True)
    mk.add_argument("--v1-only", action="store_true")
    mk.add_argument("--piece-size", type=int, default=0)
    mg = sub.add_parser("magnet")
    mg.add_argument("torrent")
    for name in ("seed", "download"):
        p = sub.add_parser(name)
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--torrent")
        src.add_argument("--magnet")
        p.add_argument("--dir", required=True)
        p.add_argument("--listen-ip", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--peer", action="append")
        p.add_argument("--timeout", type=float, default=60.0)
        p.add_argument("-v", "--verbose", action="store_true")
        p.add_argument("--lsd", action="store_true",
                       help="Local Service Discovery on; only in a private network namespace")
    a = ap.parse_args()
    if a.mode == "make":
        return cmd_make(a)
    if a.mode == "magnet":
        return cmd_magnet(a)
    if a.lsd and not in_private_netns():
        err("refusing --lsd outside a private network namespace")
        return 2
    if not a.lsd and not a.listen_ip.startswith("127."):
        err("refusing to listen off loopback:", a.listen_ip)
        return 2
    return cmd_run(a)


def in_private_netns():
    """True when this process runs in a named network namespace (one that
    `ip netns add` made), not the machine's own."""
    try:
        r = subprocess.run(["ip", "netns", "identify", str(os.getpid())],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and r.stdout.strip() != ""


if __name__ == "__main__":
    sys.exit(main())
