"""Network namespaces for the N benchmarks of integration/bench (root only).

A Net is a set of namespaces this run created, all named with one prefix
(BENCH_NETNS_TAG, set by bench.sh so that its EXIT trap can delete what a
killed driver left behind): hosts joined by veth pairs, either to each
other or to a bridge in a namespace of its own, each link shaped with tc
tbf. Traffic never leaves those namespaces. close() deletes every
namespace, and with it its veths and bridge.
"""
import json
import os
import shutil
import subprocess

IP_TIMEOUT = 20     # seconds for one ip/tc/nft command


def sh(*args, ok_fail=False, stdin=None):
    """Run one ip/tc/nft command, bounded; raise with its output on failure
    unless ok_fail. Returns (exit code, output)."""
    p = subprocess.run(["timeout", "-k", "2", str(IP_TIMEOUT)] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 and not ok_fail:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stdout.strip()))
    return p.returncode, p.stdout


def tag():
    return os.environ.get("BENCH_NETNS_TAG") or "dsb%d-" % os.getpid()


def unavailable():
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return "needs %s (iproute2)" % tool
    probe = tag() + "probe"
    code, out = sh("ip", "netns", "add", probe, ok_fail=True)
    if code != 0:
        return "ip netns is unavailable: " + out.strip()
    sh("ip", "netns", "del", probe, ok_fail=True)
    return None


class Host:
    """One machine: namespace ns, address ip on interface iface (in ns);
    port is the far end of its link (in the bridge's or the peer's ns)."""

    def __init__(self, ns, ip, iface, port_ns, port):
        self.ns, self.ip, self.iface, self.port_ns, self.port = ns, ip, iface, port_ns, port

    def cmd(self, args):
        """args run inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns] + list(args)

    def counters(self):
        """(rx, tx) bytes on this host's interface so far."""
        _, out = sh("ip", "-n", self.ns, "-j", "-s", "link", "show", "dev", self.iface)
        st = json.loads(out)[0]["stats64"]
        return st["rx"]["bytes"], st["tx"]["bytes"]

    def set_link(self, up):
        sh("ip", "-n", self.ns, "link", "set", self.iface, "up" if up else "down")


class Net:
    """Namespaces created by this run; name is a short tag (2-3 letters)."""

    def __init__(self, name, subnet):
        self.id = tag() + name
        self.subnet = subnet          # "10.99.1": hosts get .1, .2, ...
        self.namespaces = []
        self.hosts = []
        self.bridge_ns = None

    def add_ns(self, ns):
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def bridge(self):
        """A bridge in a namespace of its own; hosts added after join it."""
        self.bridge_ns = self.add_ns(self.id + "br")
        sh("ip", "-n", self.bridge_ns, "link", "add", "name", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")

    def add_host(self):
        """A host joined to the bridge by a veth pair (eth0 in its namespace)."""
        i = len(self.hosts)
        h = self._host(i, self.bridge_ns, "p%d" % i)
        sh("ip", "-n", self.bridge_ns, "link", "set", h.port, "master", "br0")
        sh("ip", "-n", self.bridge_ns, "link", "set", h.port, "up")
        return h

    def pair(self):
        """Two hosts joined directly by a veth pair (eth0 in each)."""
        a = Host(self.add_ns(self.id + "h0"), self.subnet + ".1", "eth0", None, None)
        b = self._host(1, a.ns, "eth0")
        a.port_ns, a.port = b.ns, b.iface
        self.hosts.insert(0, a)
        self._address(a)
        return a, b

    def tap_pair(self, tap_a, tap_b):
        """Two hosts whose link is a pair of TAP devices that exist in this
        namespace (created by linkemu, which carries the frames between
        them): each is moved into a host's namespace as eth0."""
        hosts = []
        for i, tap in enumerate((tap_a, tap_b)):
            ns = self.add_ns("%sh%d" % (self.id, i))
            sh("ip", "link", "set", tap, "netns", ns)
            sh("ip", "-n", ns, "link", "set", tap, "name", "eth0")
            h = Host(ns, "%s.%d" % (self.subnet, i + 1), "eth0", None, None)
            self.hosts.append(h)
            self._address(h)
            hosts.append(h)
        return hosts[0], hosts[1]

    def _host(self, i, far_ns, far_name):
        ns = self.add_ns("%sh%d" % (self.id, i))
        sh("ip", "link", "add", "name", "eth0", "netns", ns, "type", "veth", "peer", "name", far_name,
           "netns", far_ns)
        h = Host(ns, "%s.%d" % (self.subnet, i + 1), "eth0", far_ns, far_name)
        self.hosts.append(h)
        self._address(h)
        return h

    @staticmethod
    def _address(h):
        sh("ip", "-n", h.ns, "addr", "add", h.ip + "/24", "dev", h.iface)
        sh("ip", "-n", h.ns, "link", "set", h.iface, "up")
        if h.port_ns:
            sh("ip", "-n", h.port_ns, "link", "set", h.port, "up")

    @staticmethod
    def shape(ns, dev, rate, burst, latency):
        """tc tbf as the root qdisc of dev in ns: its egress is bound to rate."""
        sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
           "rate", rate, "burst", burst, "latency", latency)

    def shape_link(self, h, rate, burst, latency):
        """Both directions of h's link bound to rate (h's egress and the far end's)."""
        self.shape(h.ns, h.iface, rate, burst, latency)
        self.shape(h.port_ns, h.port, rate, burst, latency)

    def shape_hosts(self, hosts, rate, burst, latency):
        """Each host's egress bound to rate (the two ends of a tap_pair link)."""
        for h in hosts:
            self.shape(h.ns, h.iface, rate, burst, latency)

    def close(self):
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, ok_fail=True)
        self.namespaces = []


def netem_works(h):
    """Whether this kernel has sch_netem (probed on h's interface; the probe
    qdisc is removed again)."""
    code, _ = sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "add", "dev", h.iface, "root", "netem",
                 "delay", "1ms", ok_fail=True)
    if code == 0:
        sh("ip", "netns", "exec", h.ns, "tc", "qdisc", "del", "dev", h.iface, "root", ok_fail=True)
    return code == 0


def nft_loss(h, percent):
    """Drop percent % of the packets arriving on h's interface (nftables
    numgen, in h's namespace). False when nft is missing or refuses."""
    if shutil.which("nft") is None:
        return False
    rules = ("table inet dsbench {\n chain in {\n  type filter hook input priority 0; policy accept;\n"
             "  iifname \"%s\" numgen random mod 100 < %d drop\n }\n}\n" % (h.iface, percent))
    code, _ = sh("ip", "netns", "exec", h.ns, "nft", "-f", "-", stdin=rules, ok_fail=True)
    return code == 0
