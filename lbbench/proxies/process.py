"""One proxy as a child of the rig: its config generated (or a user's template filled) into
the run's folder, checked by the proxy itself, started on loopback ports, ready when it
accepts connections (and, for Envoy, its admin endpoint says LIVE), stopped with the rig;
its own counters read before it stops."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from string import Template
from typing import Any

from lbbench.errors import ConfigError
from lbbench.proxies import envoy, haproxy, nginx
from lbbench.proxies.counters import counters_of
from lbbench.proxies.plan import ProxyPlan
from lbbench.rigs.process import READY_TIMEOUT_S, ChildProcess, RigError

GENERATORS: dict[str, Any] = {"envoy": envoy, "haproxy": haproxy, "nginx": nginx}
CHECK_TIMEOUT_S = 60.0
POLL_S = 0.02


def free_port() -> int:
    """A loopback port nobody listens on now (the proxy binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(plan: ProxyPlan) -> str:
    """The generated config, or the user's template (``balancer.<proxy>.template``) with
    ${listen_port}, ${admin_port}, ${run_dir}, ${port_0}, ${port_1}, ... (each target's
    port, in the fleet's order) and ${ports} (all, comma separated) filled in."""
    template = plan.raw.get("template")
    if template is None:
        return str(GENERATORS[plan.proxy].config(plan))
    where = f"balancer.{plan.proxy}.template"
    try:
        text = Path(str(template)).read_text()
    except OSError as error:
        raise ConfigError(where, f"cannot read {template}: {error.strerror}") from None
    ports = {f"port_{i}": str(u.port) for i, u in enumerate(plan.upstreams)}
    return Template(text).safe_substitute(
        listen_port=plan.listen_port,
        admin_port=plan.admin_port,
        run_dir=str(plan.run_dir),
        ports=",".join(ports.values()),
        **ports,
    )


class ProxyProcess:
    """A proxy in front of the fleet, for one trial."""

    def __init__(self, plan: ProxyPlan, binary: str) -> None:
        self.plan = plan
        generator = GENERATORS[plan.proxy]
        self.config_path = check_config(plan, binary)
        run_dir = str(plan.run_dir)
        self.child = ChildProcess(
            plan.proxy,
            [],
            plan.run_dir,
            command=generator.run_command(binary, str(self.config_path), run_dir),
        )
        try:
            self._wait_ready()
        except BaseException:
            self.child.stop()
            raise

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.plan.listen_port}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.child.popen.poll() is not None:
                raise RigError(self.plan.proxy, f"did not start: {self.child.last_words()}")
            if accepts(self.plan.listen_port) and self._admin_live():
                return
            time.sleep(POLL_S)  # polling with a deadline: nothing to wait on
        raise RigError(self.plan.proxy, f"not ready in {READY_TIMEOUT_S:g} s")

    def _admin_live(self) -> bool:
        if self.plan.proxy != "envoy":
            return True
        try:
            url = f"http://127.0.0.1:{self.plan.admin_port}/ready"
            with urllib.request.urlopen(url, timeout=1.0) as reply:
                return bool(reply.read().strip() == b"LIVE")
        except OSError:
            return False

    def counters(self) -> dict[str, Any]:
        """The proxy's own counts of this trial (retries, ejections, ...): what it says."""
        try:
            return counters_of(self.plan)
        except (OSError, ValueError, json.JSONDecodeError) as error:
            return {"unavailable": str(error)}

    @property
    def log_path(self) -> Path:
        return Path(self.child.log.name)

    def stop(self) -> None:
        self.child.stop()


def check_config(plan: ProxyPlan, binary: str) -> Path:
    """The plan's config written into its folder and checked by the proxy; its path."""
    suffix = ".json" if plan.proxy == "envoy" else ".conf"
    path = plan.run_dir / f"{plan.proxy}{suffix}"
    path.write_text(config_text(plan))
    generator = GENERATORS[plan.proxy]
    check(plan.proxy, generator.check_command(binary, str(path), str(plan.run_dir)))
    return path


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def check(proxy: str, command: list[str]) -> None:
    """The proxy's own check of its config; a refusal is one line with its own words."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigError(f"balancer.{proxy}", f"cannot check its config: {error}") from None
    if done.returncode != 0:
        words = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        # the first line that says what is wrong (a summary line such as "test failed" last)
        said = next(
            (w for w in words if any(k in w.lower() for k in ("emerg", "alert", "error"))),
            words[0] if words else f"exit code {done.returncode}",
        )
        raise ConfigError(f"balancer.{proxy}", f"{proxy} refused its config: {said}")
