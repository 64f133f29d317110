"""The drivers of live trials: the Rig protocol, child processes, the live ZeroMQ rig
and its load generator."""
