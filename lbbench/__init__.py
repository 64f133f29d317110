"""lbbench: benchmark RPC load-balancing strategies and failover modes with evidence."""

__version__ = "0.1.0"
