"""Failover modes as plug-in policies, registered by name.

Importing this package registers the built-in modes. ``FAILOVER`` maps
each name to its policy class, in the order the router composes them (by
their ``rank``): primary_backup (which pools), eject and circuit_breaker
(which backends), hedge and retry (extra attempts), fail_fast (none of it);
admission decides first whether a request comes in at all.
"""

from lbbench.core.failover import (  # noqa: F401  (imported to register)
    admission,
    circuit_breaker,
    eject,
    fail_fast,
    hedge,
    primary_backup,
    retry,
)
from lbbench.core.failover.admission import AdmissionConfig
from lbbench.core.failover.base import (
    FAILOVER,
    FailoverPolicy,
    NoSettings,
    overrides,
    policy_class,
    register,
    unregister,
)
from lbbench.core.failover.circuit_breaker import BreakerConfig
from lbbench.core.failover.eject import EjectConfig
from lbbench.core.failover.hedge import HedgeConfig
from lbbench.core.failover.primary_backup import TierConfig
from lbbench.core.failover.retry import RetryConfig

__all__ = [
    "FAILOVER",
    "AdmissionConfig",
    "BreakerConfig",
    "EjectConfig",
    "FailoverPolicy",
    "HedgeConfig",
    "NoSettings",
    "RetryConfig",
    "TierConfig",
    "overrides",
    "policy_class",
    "register",
    "unregister",
]
