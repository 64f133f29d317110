"""Helpers for live-rig tests: profiles in a temporary folder, scenarios, a REQ client,
stopping a process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import zmq

from lbbench.scenario.load import LoadSpec
from lbbench.scenario.profiles import load_profile
from lbbench.scenario.scenario import Scenario


def write_profile(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return str(path)


def scenario(
    profile: str,
    strategy: str = "round_robin",
    failover: tuple[str, ...] = ("fail_fast",),
    **load,
) -> Scenario:
    spec = LoadSpec(**{"rate": 300.0, "duration_s": 3.0, "drain_s": 2.0, **load})
    return Scenario(
        name=f"{strategy} {'+'.join(failover)}",
        profile=load_profile(profile),
        strategy=strategy,
        failover=failover,
        load=spec,
        seed=7,
    )


def request(frontend: str, *frames: bytes, timeout_s: float = 5.0) -> list[bytes]:
    """One request from a brand-new stock REQ socket; its reply frames."""
    context = zmq.Context.instance()
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(frontend)
    try:
        sock.send_multipart(list(frames))
        assert sock.poll(int(timeout_s * 1e3)), "no reply within the timeout"
        return sock.recv_multipart()
    finally:
        sock.close(0)


def stop_process(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``; reaped either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
