"""Suite files (``*.toml``), shipped inside the package as ``lbbench.suites``.

This folder is mapped into the package at build time (see pyproject.toml);
``lbbench list`` lists them and ``lbbench list --show NAME`` prints one to
copy as the start of your own.
"""
