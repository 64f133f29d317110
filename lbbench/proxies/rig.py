"""Trials of a scenario balanced by a real proxy: the fleet's gRPC targets (as the gRPC rig
starts them, faults and all), the proxy in front of them, and the same open-loop gRPC
generator, whose one channel goes to the proxy (pick_first: the proxy does the balancing).

Every reply names the target that served it (an error too, in its trailers), so shares,
fairness, per-target errors and failover timing come from the client's side, as for
grpcio's policies; the proxy's own counters (retries, ejections, ...) are recorded in the
trial's router view. A proxy that exits during a trial makes it invalid, with its last
words."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from lbbench.proxies.binaries import find_binary
from lbbench.proxies.counters import failover_counts
from lbbench.proxies.plan import ProxyPlan
from lbbench.proxies.process import ProxyProcess, check_config, free_port
from lbbench.rigs.base import Progress
from lbbench.rigs.process import RigError
from lbbench.rpc.rig import GrpcProcesses, grpc_trial
from lbbench.scenario.scenario import Scenario

START_TRIES = 3  # a free port taken by someone else in between: another port


class ProxyFleet(GrpcProcesses):
    """The fleet's gRPC targets and the proxy in front of them."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        super().__init__(scenario, seed)
        self.proxy: ProxyProcess | None = None
        # the proxy's config and log; kept when it fails, and named in the trial's problems
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"lbbench-{scenario.proxy}-"))
        self.run_dir.chmod(0o755)  # NGINX's workers drop root, and still write here
        self.keep = False
        try:
            self._start_proxy()
        except RigError as error:
            self.keep = True
            self.close()
            raise RigError(
                error.where, f"{error.message}; config and log in {self.run_dir}"
            ) from None
        except BaseException:
            self.close()
            raise

    def _start_proxy(self) -> None:
        scenario = self.scenario
        assert scenario.proxy is not None
        options = dict(scenario.balancer_options)
        binary = find_binary(scenario.proxy, options.get(f"{scenario.proxy}.bin"))
        for attempt in range(START_TRIES):
            plan = ProxyPlan.of(scenario, self.ports, free_port(), free_port(), self.run_dir)
            try:
                self.proxy = ProxyProcess(plan, binary)
                return
            except RigError:  # (a config the proxy refuses is a ConfigError: not retried)
                if attempt == START_TRIES - 1:
                    raise

    @property
    def address(self) -> str:
        assert self.proxy is not None
        return self.proxy.address

    def check_processes(self, elapsed: float) -> None:
        super().check_processes(elapsed)
        proxy = self.proxy
        if proxy is not None and proxy.child.popen.poll() is not None and self.failure is None:
            self.keep = True
            self.failure = (
                f"{self.scenario.proxy} exited ({proxy.child.last_words()}; config and log "
                f"kept in {self.run_dir})"
            )

    def close(self) -> None:
        if getattr(self, "proxy", None) is not None:
            self.proxy.stop()
        super().close()
        if hasattr(self, "run_dir") and not self.keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)


class ProxyRig:
    """Trials of scenarios whose balancer is Envoy, HAProxy or NGINX."""

    simulated = False

    def check(self, scenario: Scenario) -> None:
        """Bad input fails before anything starts: the scenario, the binary, and the config
        it makes (raw sections, a template) as the proxy itself checks it."""
        scenario.validate()
        proxy = scenario.proxy
        assert proxy is not None
        binary = find_binary(proxy, dict(scenario.balancer_options).get(f"{proxy}.bin"))
        with tempfile.TemporaryDirectory(prefix=f"lbbench-{proxy}-check-") as folder:
            ports = {t.id: 20_000 + i for i, t in enumerate(scenario.profile.targets)}
            plan = ProxyPlan.of(scenario, ports, 19_999, 19_998, Path(folder))
            check_config(plan, binary)

    def run_trial(
        self, scenario: Scenario, index: int, progress: Progress | None = None
    ) -> dict[str, Any]:
        return grpc_trial(
            scenario,
            index,
            progress,
            ProxyFleet,
            lambda rig: {
                "addresses": [rig.address],
                "strategy": "grpc:pick_first",  # one address: the proxy balances
                "modes": ["fail_fast"],
                "deadline_s": scenario.deadline_s,
            },
            lambda rig: proxy_status(rig),
        )


def proxy_status(rig: ProxyFleet) -> dict[str, Any]:
    """What the proxy says of a trial: its config, its own counters, and the failover
    counts they give (``failover_counts``: merged into the trial's own)."""
    assert rig.proxy is not None
    counters = rig.proxy.counters()
    return {
        "proxy": rig.scenario.proxy,
        "config": rig.proxy.config_path.read_text(),
        "counters": counters,
        "failover_counts": failover_counts(rig.proxy.plan.proxy, counters),
    }
