"""Fleet profiles (``*.toml``), shipped inside the package as ``lbbench.targets``.

This folder is mapped into the package at build time (see pyproject.toml),
so every install finds the profiles with importlib.resources.
"""
