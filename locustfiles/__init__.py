"""Locust users and load shapes, shipped inside the package as ``lbbench.locustfiles``.

Locust runs them by path (``locust -f locustfiles/zmq_balancer.py``);
``lbbench locust`` finds them with importlib.resources in any install.
"""
