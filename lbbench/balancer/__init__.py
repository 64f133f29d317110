"""The ZeroMQ balancer under test: the loop around the router, its control endpoint, its peers."""

from lbbench.balancer.loop import (
    DEFAULT_BACKEND,
    DEFAULT_CONTROL,
    DEFAULT_FRONTEND,
    AddressInUse,
    Balancer,
    serve,
)

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_CONTROL",
    "DEFAULT_FRONTEND",
    "AddressInUse",
    "Balancer",
    "serve",
]
