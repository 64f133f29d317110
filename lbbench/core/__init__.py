"""The pure decision core: router, strategies, failover policies, service queue, latency, faults.

Nothing in this package touches a socket, a process or the wall clock, and
nothing here imports pyzmq, grpc or locust (a test imports it with those
blocked): time and randomness are injected, so the live balancer, the
simulator and the tests run the very same decisions.
"""
