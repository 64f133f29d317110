"""Locust as a front end of lbbench: a ZeroMQ user, lossless HdrHistograms across
workers, a Balancer tab in the web UI, and lbbench.run/1 result sets from Locust runs.

Imported only by locustfiles (Locust monkey-patches the standard library
with gevent on import; nothing else in lbbench imports this package).
"""
