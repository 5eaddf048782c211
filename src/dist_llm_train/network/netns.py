"""Network namespaces joined by shaped veth links: a small lab of WAN paths on one Linux host.

Why: to run real worker processes behind links like the multi-region topology's without other
machines. A lab has one hub namespace (the parameter server, and one latency relay per link) and
one namespace per worker; each worker's veth pair runs hub <-> worker with `tc tbf` on both ends
(the hub end shapes the downlink, the worker end the uplink). Latency comes from the relay
(`latency_relay.py`), since the kernels this runs on have no `netem`.

Every address lives inside the lab's own namespaces (10.99.<link>.1 on the hub, .2 on the worker),
so nothing touches the host's network. Names carry the owner's pid and a random tag, so concurrent
labs do not collide; `close()` (also run at exit) stops every process the lab started and deletes
every namespace, which removes the veth pairs with them. Namespaces left by a lab whose process is
gone (killed with SIGKILL) are swept when the next lab starts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

#: namespace names: dlt-<owner pid>-<tag>-<role>
_NAME = re.compile(r"^dlt-(\d+)-([0-9a-f]{6})-")


class NetnsUnavailable(RuntimeError):
    """Namespaces, veth pairs or tbf cannot be used on this host (the message says why)."""


def _run(args: list[str], what: str) -> str:
    try:
        res = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise NetnsUnavailable(f"{what}: {args[0]} is not installed") from exc
    if res.returncode != 0:
        raise NetnsUnavailable(f"{what}: `{' '.join(args)}` failed: {(res.stderr or res.stdout).strip()}")
    return res.stdout


def tbf_args(dev: str, mbps: float) -> list[str]:
    """`tc` arguments shaping `dev`'s egress to `mbps` with a token bucket.

    The bucket holds 2 ms of traffic (at least 64 KiB, so a veth's segmentation-offload packets
    pass); the queue holds 200 ms (at least 256 KiB), enough that TCP on the short hop keeps it full.
    """
    if not mbps > 0:
        raise ValueError(f"bandwidth must be > 0 Mbps, got {mbps!r}")
    rate_bytes = mbps * 1e6 / 8
    burst = max(64 * 1024, int(rate_bytes * 0.002))
    limit = max(256 * 1024, int(rate_bytes * 0.2)) + burst
    return ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{int(mbps * 1000)}kbit",
            "burst", str(burst), "limit", str(limit)]


def python_env(threads: int = 1) -> dict[str, str]:
    """Environment for a Python child: this package's source tree first, `threads` threads per process."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1")
    return env


@dataclass
class ShapedLink:
    """One worker's path to the hub: its namespace, the two addresses, and the configured shape."""

    index: int
    name: str
    netns: str
    hub_ip: str
    worker_ip: str
    up_mbps: float
    down_mbps: float
    latency_ms: float
    veth_hub: str
    veth_worker: str


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_namespaces() -> list[str]:
    out = _run(["ip", "netns", "list"], "list network namespaces")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def sweep_orphans() -> list[str]:
    """Delete lab namespaces (and work folders) whose owning process no longer exists; returns the names."""
    removed = []
    for ns in list_namespaces():
        m = _NAME.match(ns)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(NetnsUnavailable):
                _run(["ip", "netns", "del", ns], f"delete orphaned namespace {ns}")
                removed.append(ns)
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        m = _NAME.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
    return removed


def unavailable_reason() -> str | None:
    """None when this host can build a lab; otherwise why not (checked by building a one-link lab)."""
    if not hasattr(os, "geteuid"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return f"network namespaces and tc need root (this process runs as uid {os.geteuid()})"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` (iproute2) is not installed"
    try:
        with NetnsLab() as lab:
            lab.add_link("probe", 10.0, 10.0, 0.0)
    except NetnsUnavailable as exc:
        return str(exc)
    return None


@dataclass
class NetnsLab:
    """A hub namespace plus one namespace per shaped link; a context manager that always cleans up."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    links: list[ShapedLink] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    hub: str = ""
    _closed: bool = False

    def __post_init__(self):
        if not re.fullmatch(r"[0-9a-f]{6}", self.tag):
            raise ValueError(f"lab tag must be 6 hex digits, got {self.tag!r}")
        self.prefix = f"dlt-{os.getpid()}-{self.tag}"
        self.workdir = tempfile.mkdtemp(prefix=self.prefix + "-")
        atexit.register(self.close)
        try:
            sweep_orphans()
            self.hub = self._add_namespace("hub")
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, role: str) -> str:
        ns = f"{self.prefix}-{role}"
        _run(["ip", "netns", "add", ns], "create a network namespace")
        self.namespaces.append(ns)
        _run(["ip", "-n", ns, "link", "set", "lo", "up"], f"bring up loopback in {ns}")
        return ns

    def add_link(self, name: str, up_mbps: float, down_mbps: float, latency_ms: float) -> ShapedLink:
        """A worker namespace joined to the hub by a veth pair shaped to up/down Mbps (latency: the relay's)."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name):
            raise ValueError(f"link name must be 1-40 letters, digits, '.', '_' or '-', got {name!r}")
        if latency_ms < 0:
            raise ValueError(f"latency must be >= 0 ms, got {latency_ms!r}")
        i = len(self.links)
        if i >= 250:
            raise ValueError("a lab holds at most 250 links")
        ns = self._add_namespace(f"w{i}")
        vh, vw = f"dl{self.tag}h{i}", f"dl{self.tag}w{i}"  # <= 15 characters, unique per lab
        _run(["ip", "link", "add", vh, "netns", self.hub, "type", "veth", "peer", "name", vw, "netns", ns],
             "create a veth pair")
        hub_ip, worker_ip = f"10.99.{i}.1", f"10.99.{i}.2"
        for nsx, dev, ip in ((self.hub, vh, hub_ip), (ns, vw, worker_ip)):
            _run(["ip", "-n", nsx, "addr", "add", f"{ip}/24", "dev", dev], f"address {dev}")
            _run(["ip", "-n", nsx, "link", "set", dev, "up"], f"bring up {dev}")
        _run(["ip", "netns", "exec", self.hub, *tbf_args(vh, down_mbps)], f"shape {vh} (tbf)")
        _run(["ip", "netns", "exec", ns, *tbf_args(vw, up_mbps)], f"shape {vw} (tbf)")
        link = ShapedLink(i, name, ns, hub_ip, worker_ip, float(up_mbps), float(down_mbps), float(latency_ms), vh, vw)
        self.links.append(link)
        return link

    def qdisc(self, link: ShapedLink) -> str:
        """`tc -s qdisc` of both ends (rates, drops, overlimits), for reports."""
        return "\n".join(_run(["ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev], "tc show")
                         for ns, dev in ((self.hub, link.veth_hub), (link.netns, link.veth_worker)))

    def spawn(self, netns: str, argv: list[str], **popen) -> subprocess.Popen:
        """Start `argv` inside `netns`; the lab stops it on close (SIGTERM, then SIGKILL)."""
        if netns not in self.namespaces:
            raise ValueError(f"{netns!r} is not one of this lab's namespaces")
        proc = subprocess.Popen(["ip", "netns", "exec", netns, *argv], **popen)  # ip execs argv: same pid
        self.processes.append(proc)
        return proc

    def spawn_python(self, netns: str, module: str, args: list[str], log_name: str, threads: int = 1,
                     env: dict | None = None) -> subprocess.Popen:
        """`python -m module args` inside `netns`, output to `<workdir>/<log_name>`."""
        log = open(os.path.join(self.workdir, log_name), "ab")  # noqa: SIM115 - the child owns it
        try:
            return self.spawn(netns, [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT,
                              env=env or python_env(threads))
        finally:
            log.close()

    def log_tail(self, log_name: str, lines: int = 30) -> str:
        path = os.path.join(self.workdir, log_name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as fh:
            return "\n".join(fh.read().splitlines()[-lines:])

    def wait_ready(self, ready_file: str, proc: subprocess.Popen, log_name: str, timeout: float = 120.0) -> int:
        """Wait until a child wrote its bound port to `ready_file`; the port."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if proc.poll() is not None:
                raise RuntimeError(f"{log_name}: exited with code {proc.returncode}:\n{self.log_tail(log_name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{log_name}: not listening after {timeout:.0f} s:\n{self.log_tail(log_name)}")
            time.sleep(0.05)
        with open(ready_file) as fh:
            return int(fh.read())

    def start_relay(self, link: ShapedLink, target_port: int, listen_port: int = 0,
                    target_host: str = "127.0.0.1") -> int:
        """A latency relay in the hub on `link.hub_ip` forwarding to `target_host:target_port`; its port."""
        ready = os.path.join(self.workdir, f"relay-{link.index}-{target_port}.port")
        log_name = f"relay-{link.index}-{target_port}.log"
        proc = self.spawn_python(self.hub, "dist_llm_train.network.latency_relay",
                                 ["--listen", f"{link.hub_ip}:{listen_port}",
                                  "--target", f"{target_host}:{target_port}",
                                  "--delay-ms", repr(link.latency_ms), "--ready-file", ready], log_name)
        return self.wait_ready(ready, proc, log_name)

    @staticmethod
    def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop this lab's processes and delete its namespaces (and with them the veth pairs). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.processes):
            self.stop_process(proc)
        errors = []
        for ns in reversed(self.namespaces):
            try:
                _run(["ip", "netns", "del", ns], f"delete namespace {ns}")
            except NetnsUnavailable as exc:
                errors.append(str(exc))
        shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)
        if errors:
            raise NetnsUnavailable("; ".join(errors))

    def __enter__(self) -> NetnsLab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
