"""Real proxies as balancers under test: Envoy, HAProxy and NGINX.

A scenario with ``balancer = "envoy"`` (or ``haproxy``, ``nginx``) is
routed by that proxy, configured from lbbench's own vocabulary (its
strategy, failover modes and their settings) through one table
(``vocabulary``), with a config generated per proxy (``envoy``,
``haproxy``, ``nginx``), checked by the proxy itself, and run as a child
process on loopback in front of the fleet's gRPC targets (``process``,
``rig``). docs/proxies.md sets the three side by side.
"""
