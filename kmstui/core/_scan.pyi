# Types of the C column scanner (_scan.c), which mypy cannot read from the built extension.
from collections.abc import Sequence

Column = tuple[bytes, list[bytes]] | None  # (native uint32 codes, distinct raw texts); None: a field holding others

def scan(
    data: bytes,
    fields: Sequence[tuple[bytes, int]],
    keep: tuple[int, Sequence[bytes]] | None = None,
    /,
) -> tuple[int, bytes, list[Column]] | None: ...
def surrogate_escapes(data: bytes, /) -> bool: ...
