"""One range check for every number a user gives (config, profiles, flags)."""

from __future__ import annotations

import math
from typing import Any

from lbbench.errors import ConfigError


def check_number(
    where: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    """Raise a ConfigError naming ``where`` unless value is a finite number in range.

    ``low_open`` makes the lower bound exclusive (value > low); booleans are
    not numbers here, although Python counts them as ints.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(where, f"must be a number, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(where, f"must be an integer, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(where, f"must be finite, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(where, f"must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(where, f"must be <= {high}, got {value!r}")
