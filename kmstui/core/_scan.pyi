# Types of the C column scanner (_scan.c), which mypy cannot read from the built extension.
from collections.abc import Sequence

# (native uint32 codes, distinct raw texts); None: a field holding others. With ``roles``,
# one more column comes last: the short forms of resolved assumed-role sessions, as str.
Column = tuple[bytes, list[bytes]] | None

def scan(
    data: bytes,
    fields: Sequence[tuple[bytes, int]],
    keep: tuple[int, Sequence[bytes]] | None = None,
    roles: tuple[int, int, int, Sequence[int]] | None = None,
    /,
) -> tuple[int, bytes, list[Column]] | None: ...
def surrogate_escapes(data: bytes, /) -> bool: ...
