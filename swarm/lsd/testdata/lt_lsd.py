#!/usr/bin/python3
"""libtorrent with Local Service Discovery, for the interop test of swarm/lsd.

  lt_lsd.py make DIR            writes DIR/payload (256 KiB) and DIR/payload.torrent,
                                prints {"infohash": HEX}
  lt_lsd.py run DIR IP PORT SECONDS
                                seeds DIR/payload.torrent listening on IP:PORT with
                                LSD on (DHT, UPnP, NAT-PMP off); prints a JSON line
                                per event: "ready", "lsd_peer" and "peer_connect"
                                (ip, port, infohash, message, elapsed_ms) and
                                exits after SECONDS.
Run it only inside a network namespace the test created.
"""
import json
import os
import sys
import time

import libtorrent as lt


def emit(obj):
    print(json.dumps(obj), flush=True)


def make(d):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "payload")
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 1024)
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, d)
    with open(path + ".torrent", "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(path + ".torrent")
    emit({"infohash": str(ti.info_hashes().v1)})


def run(d, ip, port, seconds):
    t0 = time.monotonic()
    ses = lt.session({
        "listen_interfaces": "%s:%d" % (ip, port),
        "enable_lsd": True, "enable_dht": False, "dht_bootstrap_nodes": "",
        "enable_upnp": False, "enable_natpmp": False, "enable_ip_notifier": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "alert_mask": int(lt.alert.category_t.all_categories),
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(os.path.join(d, "payload.torrent"))
    atp.save_path = d
    atp.flags = lt.torrent_flags.default_flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
    ih = str(atp.ti.info_hashes().v1)
    ses.add_torrent(atp)
    emit({"event": "ready", "infohash": ih, "port": port})
    while time.monotonic() - t0 < seconds:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            # the python bindings have no lsd_peer_alert class: match by name
            if a.what() in ("lsd_peer", "peer_connect"):
                ep = getattr(a, "endpoint", None) or getattr(a, "ip", None)
                emit({"event": a.what(), "message": a.message(), "infohash": ih,
                      "ip": str(ep[0]) if ep else "", "port": int(ep[1]) if ep else 0,
                      "elapsed_ms": int((time.monotonic() - t0) * 1000)})


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))


if __name__ == "__main__":
    main()
