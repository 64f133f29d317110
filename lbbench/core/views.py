"""What the router shows people about a backend: one health word."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lbbench.core.backends import BackendState


def health_word(
    backend: BackendState, words: Sequence[Callable[[BackendState], str | None]]
) -> str:
    """left, the first word a policy has for it (ejected, down, open, half_open), or healthy."""
    if not backend.joined:
        return "left"
    for word_of in words:
        word = word_of(backend)
        if word:
            return word
    return "healthy"
