"""The rig and Locust on separate hosts: network namespaces joined by veth pairs.

Four hosts, each a network namespace with an address of its own on one
switched network (a bridge in a fifth namespace; nothing touches the
machine's own interfaces and no traffic leaves the namespaces made here):

| host | address | runs |
|---|---|---|
| balancer | 10.231.0.1 | `lbbench balancer`: frontend, backend, control bound there |
| targets | 10.231.0.2 | one `lbbench target` per target, connecting to the backend |
| master | 10.231.0.3 | the Locust master (headless), binding 5557 for its workers |
| workers | 10.231.0.4 | two Locust workers, connecting to the master |

Every socket beyond loopback is keyed (CurveZMQ, keys from ``lbbench
keys``), as a real deployment must be. A short headless swarm runs across
them; nothing may be lost and the master's merged histogram must hold
exactly Locust's request count.
Needs root and iproute2 (marked ``netns``; CI runs it); bounded in time,
and every namespace and process is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbbench.results.files import read_result
from lbbench.results.recorder import decode
from tests.integration.helpers import stop_process

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="needs root and iproute2 (ip netns) to make the hosts",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = str(ROOT / "locustfiles" / "zmq_balancer.py")
PROFILE = str(ROOT / "targets" / "uniform.toml")
HOSTS = {"balancer": "10.231.0.1", "targets": "10.231.0.2", "master": "10.231.0.3",
         "workers": "10.231.0.4"}  # fmt: skip
FRONTEND, BACKEND, CONTROL, MASTER = 5555, 5556, 5557, 5557
RUN_S = 6


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Hosts:
    """The namespaces and their network; ``close()`` removes them all."""

    def __init__(self) -> None:
        tag = f"lbb{os.getpid() % 100000}"
        self.switch = f"{tag}-sw"
        self.names = {host: f"{tag}-{host[:3]}" for host in HOSTS}
        self.made: list[str] = []
        ip("netns", "add", self.switch)
        self.made.append(self.switch)
        self.run_in(self.switch, "ip", "link", "add", "br0", "type", "bridge")
        self.run_in(self.switch, "ip", "link", "set", "br0", "up")
        for index, (host, address) in enumerate(HOSTS.items()):
            name = self.names[host]
            ip("netns", "add", name)
            self.made.append(name)
            port = f"p{index}"
            # the host's end is eth0; its peer is a port of the switch's bridge
            self.run_in(name, "ip", "link", "add", "eth0", "type", "veth",
                        "peer", "name", port, "netns", self.switch)  # fmt: skip
            self.run_in(name, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
            self.run_in(name, "ip", "link", "set", "eth0", "up")
            self.run_in(name, "ip", "link", "set", "lo", "up")
            self.run_in(self.switch, "ip", "link", "set", port, "master", "br0")
            self.run_in(self.switch, "ip", "link", "set", port, "up")

    def run_in(self, namespace: str, *command: str) -> None:
        ip("netns", "exec", namespace, *command)

    def start(self, host: str, *command: str, **options) -> subprocess.Popen:
        return subprocess.Popen(
            ["ip", "netns", "exec", self.names[host], *command],
            stdin=subprocess.DEVNULL, text=True, **options,
        )  # fmt: skip

    def close(self) -> None:
        for name in reversed(self.made):
            with contextlib.suppress(subprocess.SubprocessError):
                ip("netns", "del", name)


@pytest.fixture
def hosts():
    made = Hosts()
    try:
        yield made
    finally:
        made.close()


def test_a_swarm_across_four_hosts_loses_nothing(hosts, tmp_path):
    balancer_ip, master_ip = HOSTS["balancer"], HOSTS["master"]
    lbbench = [sys.executable, "-m", "lbbench"]
    started: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(host: str, name: str, *command: str) -> subprocess.Popen:
        out, err = (logs / f"{name}.out").open("w"), (logs / f"{name}.log").open("w")
        process = hosts.start(host, *command, stdout=out, stderr=err)
        started.append(process)
        return process

    keys = tmp_path / "keys"
    subprocess.run([*lbbench, "keys", str(keys)], check=True, capture_output=True, timeout=60)
    try:
        start("balancer", "balancer", *lbbench, "balancer",
              "--frontend", f"tcp://{balancer_ip}:{FRONTEND}",
              "--backend", f"tcp://{balancer_ip}:{BACKEND}",
              "--control", f"tcp://{balancer_ip}:{CONTROL}",
              "--strategy", "p2c", "--targets", PROFILE,
              "--curve-secret", str(keys / "balancer.key_secret"))  # fmt: skip
        for target in ("t0", "t1", "t2", "t3"):
            start("targets", target, *lbbench, "target", "--id", target,
                  "--backend", f"tcp://{balancer_ip}:{BACKEND}", "--targets", PROFILE,
                  "--curve-secret", str(keys / "target.key_secret"),
                  "--curve-server", str(keys / "balancer.key"))  # fmt: skip
        out = tmp_path / "results"
        master = start("master", "master", sys.executable, "-m", "locust", "-f", LOCUSTFILE,
                       "--master", "--master-bind-host", master_ip,
                       "--master-bind-port", str(MASTER), "--expect-workers", "2",
                       "--headless", "-u", "8", "-r", "8", "-t", f"{RUN_S}s", "--json",
                       "--host", f"tcp://{balancer_ip}:{FRONTEND}",
                       "--lbbench-control", f"tcp://{balancer_ip}:{CONTROL}",
                       "--lbbench-profile", PROFILE, "--lbbench-out", str(out),
                       "--lbbench-curve", str(keys))  # fmt: skip
        for number in (1, 2):
            start("workers", f"worker{number}", sys.executable, "-m", "locust", "-f", LOCUSTFILE,
                  "--worker", "--master-host", master_ip, "--master-port", str(MASTER),
                  "--lbbench-curve", str(keys))  # fmt: skip
        code = master.wait(timeout=120)
        log = (logs / "master.log").read_text()
        assert code == 0, log[-3000:]
        stats = json.loads((logs / "master.out").read_text())  # Locust's --json
        locust_requests = sum(entry["num_requests"] for entry in stats)
        assert locust_requests > 0
        assert sum(entry["num_failures"] for entry in stats) == 0
        (result,) = out.iterdir()
        (scenario,) = read_result(result)["scenarios"]
        requests = scenario["summary"]["requests"]
        # nothing lost: every call Locust made has an outcome, counted once
        assert requests["sent"] == requests["ok"] == locust_requests
        assert sum(b["served_ok"] for b in scenario["summary"]["backends"]) == locust_requests
        histogram = decode(scenario["summary"]["histograms"]["uncorrected"])
        assert histogram.get_total_count() == locust_requests
        assert "2 workers" in log or "2 ready workers" in log, log[-1500:]
    finally:
        for process in reversed(started):
            stop_process(process)
