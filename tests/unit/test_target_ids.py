"""Target ids: a short safe alphabet, checked wherever an id comes in (profiles, READY, --id).

An id is a peer's ZeroMQ routing id and is shown in logs, tables, HTML pages
and file names; a peer once joined as ``<img src=x onerror=...>`` and its
id ran as script in the balancer page (issue 24).
"""

from __future__ import annotations

import pytest

from lbbench.balancer.peers import backend_from_ready
from lbbench.core.backend_spec import Backend, id_problem
from lbbench.errors import ConfigError
from lbbench.scenario.profiles import TargetSpec

IDS = [
    # id, why it is refused (None: accepted)
    ("t0", None),
    ("b9999", None),
    ("eu-west-1.pod:7_a", None),
    ("x" * 64, None),
    ("x" * 65, "at most 64 characters"),
    ("", "non-empty"),
    ("<img src=x onerror=alert(1)>", "only letters, digits"),
    ("t0 ", "only letters, digits"),
    ("naïve", "only letters, digits"),
    ("a/b", "only letters, digits"),
    ("\ufffd\ufffd", "only letters, digits"),  # not UTF-8, as the balancer decodes it
]


@pytest.mark.parametrize(("target_id", "why"), IDS)
def test_a_target_id_is_checked_in_one_place(target_id, why):
    problem = id_problem(target_id)
    if why is None:
        assert problem is None
        assert Backend(target_id).id == target_id
        assert TargetSpec(target_id).id == target_id
    else:
        assert why in problem
        for make in (Backend, TargetSpec):
            with pytest.raises(ConfigError, match=why):
                make(target_id)
        with pytest.raises(ConfigError, match=f"READY routing id.*{why}"):
            backend_from_ready(target_id, b"{}", {}, {})
