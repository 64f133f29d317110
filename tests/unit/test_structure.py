"""The shape of the code, checked: a pure core, layers that import only downwards, no cycles.

Layers, from the ground up (a module may import its own layer and the
ones below): the vocabulary, the pure decision core, scenario
descriptions, results, the drivers (rigs, simulator, balancer, targets,
gRPC) and the front ends (command line, Locust). Imports are read from
the source (``ast``), function-level ones included, ``TYPE_CHECKING``
blocks excluded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lbbench
from tests.blocked import run_blocked

PACKAGE = Path(lbbench.__file__).parent

# first matching prefix wins; a layer number per module prefix
LAYERS = [
    ("lbbench.vocabulary", 0),
    ("lbbench.errors", 0),
    ("lbbench.checks", 0),
    ("lbbench.protocol", 0),
    ("lbbench.registry", 0),
    ("lbbench.schema", 0),
    ("lbbench.core", 1),
    ("lbbench.scenario", 2),
    ("lbbench.proxies.vocabulary", 2),  # what a scenario may say to a proxy
    ("lbbench.proxies", 4),
    ("lbbench.results", 3),
    ("lbbench.rigs", 4),
    ("lbbench.sim", 4),
    ("lbbench.rpc", 4),
    ("lbbench.balancer", 4),
    ("lbbench.target", 4),
    ("lbbench.security", 4),
    ("lbbench.precise_wait", 4),
    ("lbbench.zmq_io", 4),
    ("lbbench.cli", 5),
    ("lbbench.api", 5),
    ("lbbench.pytest_plugin", 5),
    ("lbbench.swarm", 5),
    ("lbbench.__main__", 5),
    ("lbbench", 0),  # the package itself: its version
]
LAYER_NAMES = ["vocabulary", "core", "scenario", "results", "drivers", "front ends"]

# what a driver may not lean on: the simulator is not the live rig
FORBIDDEN = [
    ("lbbench.sim", "lbbench.rigs.live"),
    ("lbbench.sim", "lbbench.rigs.loadgen"),
    ("lbbench.sim", "lbbench.rigs.process"),
    ("lbbench.sim", "lbbench.balancer"),
    ("lbbench.sim", "lbbench.target"),
    ("lbbench.sim", "lbbench.rpc"),
    ("lbbench.sim", "lbbench.proxies.rig"),
    ("lbbench.sim", "lbbench.proxies.process"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, typing_too: bool = False) -> set[str]:
    """The lbbench modules ``name`` imports (a package's submodule when one is named);
    ``typing_too``: with the imports made only for type checking."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if not typing_too and _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}
# What a module needs to be read, type annotations included: a cycle here is two modules
# that cannot be understood (or tested) one without the other.
FULL_GRAPH = {name: imports_of(name, typing_too=True) for name in MODULES}


def layer(name: str) -> int:
    return next(
        level for prefix, level in LAYERS if name == prefix or name.startswith(prefix + ".")
    )


def test_every_module_belongs_to_a_layer():
    assert all(isinstance(layer(name), int) for name in MODULES)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{name} ({LAYER_NAMES[layer(name)]}) imports {other} ({LAYER_NAMES[layer(other)]})"
        for name, others in GRAPH.items()
        for other in sorted(others)
        if layer(other) > layer(name)
    ]
    assert upward == []


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_the_simulator_leans_on_no_live_part(importer, imported):
    offenders = [
        f"{name} imports {other}"
        for name, others in GRAPH.items()
        if name == importer or name.startswith(importer + ".")
        for other in others
        if other == imported or other.startswith(imported + ".")
    ]
    assert offenders == []


def test_there_are_no_import_cycles_not_even_through_type_annotations():
    """Failover policies see the router through ``PolicyContext``, the control endpoint the
    balancer through a protocol of its own: no module needs one that needs it back, inside a
    package or across, imports for type checking included."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []
    cycles: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for other in sorted(FULL_GRAPH[name]):
            if state.get(other) == 1:
                cycles.append(" -> ".join([*path[path.index(other) :], other]))
            elif other not in state:
                visit(other)
        path.pop()
        state[name] = 2

    for name in GRAPH:
        if name not in state:
            visit(name)
    assert cycles == []


BLOCKED = ("zmq", "grpc", "grpc_health", "locust", "gevent", "hdrh", "rich", "matplotlib", "scipy")


def test_the_core_imports_with_every_driver_and_tool_blocked():
    core = sorted(name for name in MODULES if layer(name) <= 1 and name != "lbbench.protocol")
    body = f"""
import importlib
for name in {core!r}:
    importlib.import_module(name)
print(len({core!r}))
"""
    done = run_blocked(BLOCKED, body, timeout_s=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(core) > 20


# One target model: what a target does is written once (core.target_model); the ZeroMQ
# target, the gRPC targets (on the asyncio shell both share) and the simulator are shells
# that move messages around it.
TARGET_SHELLS = [
    "lbbench.target",
    "lbbench.rpc.shell",
    "lbbench.rpc.target",
    "lbbench.rpc.h2target",
    "lbbench.sim.targets",
    "lbbench.sim.engine",
]
DRIVEN_SHELLS = ("lbbench.sim.engine", "lbbench.rpc.target", "lbbench.rpc.h2target")


@pytest.mark.parametrize("shell", TARGET_SHELLS)
def test_target_shells_reach_queues_and_faults_only_through_the_target_model(shell):
    if shell not in DRIVEN_SHELLS:  # (those drive a shell that holds the model)
        assert "lbbench.core.target_model" in GRAPH[shell]
    assert "lbbench.core.fault_state" not in GRAPH[shell]
    source = MODULES[shell].read_text()
    for reach_in in (
        "FaultState(",
        "ServiceQueue(",
        "faults.apply(",
        "faults.end_timed(",
        ".pump(",
    ):
        assert reach_in not in source, f"{shell} does {reach_in}: the target model's job"


def test_every_seeded_random_stream_is_named_in_one_table():
    """Live and simulated runs draw the same values only if they seed the same streams:
    their seeds are made in core.streams alone."""
    offenders = []
    for name, path in MODULES.items():
        if name == "lbbench.core.streams":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if 'Random(f"' in line or "seed * 1000" in line or ':service"' in line:
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []
