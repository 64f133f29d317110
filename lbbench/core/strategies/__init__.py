"""Balancing strategies, registered by name.

Importing this package registers every strategy; ``STRATEGIES`` maps each
name to its class and ``make_strategy`` builds one by name.
"""

from lbbench.core.strategies import (  # noqa: F401  (imported to register)
    adaptive,
    hashing,
    least_loaded,
    peak_ewma,
    probing,
    simple,
    weighted_rr,
)
from lbbench.core.strategies.base import (
    STRATEGIES,
    Pool,
    RequestView,
    Strategy,
    make_strategy,
    strategy_class,
    strategy_options,
)

__all__ = [
    "STRATEGIES",
    "Pool",
    "RequestView",
    "Strategy",
    "make_strategy",
    "strategy_class",
    "strategy_options",
]
