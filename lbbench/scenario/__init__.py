"""What to run: fleet profiles, loads, scenarios and suites of them.

Pure descriptions, shared by every rig; nothing here starts a process or
opens a socket.
"""
