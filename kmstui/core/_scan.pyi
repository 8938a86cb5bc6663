# Types of the C column scanner (_scan.c), which mypy cannot read from the built extension.
from collections.abc import Sequence

# (native uint32 codes, distinct raw texts); None: a field holding others. With ``roles``,
# one more column comes last: the short forms of resolved assumed-role sessions, as str.
Column = tuple[bytes, list[bytes]] | None
# With ``contexts``: (native uint32 pair counts per distinct text of that field, 0xFFFFFFFF for
# one left to the caller; the pairs' key codes and value codes, native uint32 from 1; the
# distinct key texts; the distinct value texts).
# With ``grants`` too: two native uint32 counts per distinct text of that field (else None).
Pairs = tuple[bytes, bytes, bytes, list[str], list[str], bytes | None]

def scan(
    data: bytes,
    fields: Sequence[tuple[bytes, int]],
    keep: tuple[int, Sequence[bytes]] | None = None,
    roles: tuple[int, int, int, Sequence[int]] | None = None,
    contexts: int = -1,
    times: int = -1,
    ids: int = -1,
    objects: int = -1,
    grants: int = -1,
    /,
) -> tuple[int, bytes, list[Column], Pairs | None, bytes | None, bytes | None, bytes | None] | None: ...
def surrogate_escapes(data: bytes, /) -> bool: ...
def context_codes(
    known: dict,
    keys: dict[str, int],
    values: dict[str, int],
    raws: list,
    used: object,
    counts: object,
    starts: object,
    pair_keys: object,
    pair_values: object,
    key_texts: list[str],
    value_texts: list[str],
    first: int,
    /,
) -> tuple[bytes, bytes, bytes, bytes, bytes, list[int], int]: ...
def recode(vocab: dict, values: list, codes: object, /) -> bytes: ...
def session_codes(
    known: dict[int, dict[str, int]], shorts: list[str], kinds: object, codes: object, sessions: list, /
) -> tuple[bytes, bytes]: ...
def group_rows(columns: list, rows: int, /) -> tuple[bytes, bytes]: ...
def encoded_texts(texts: list, digests: bool, /) -> tuple[bytes, bytes, bytes | None] | None: ...
def packed_ids(ids: object, /) -> tuple[bytearray, bytes, list[int]]: ...
def digest_insert(slots: object, digests: object, codes: object, new_digests: object, /) -> None: ...
def digest_find(slots: object, digests: object, wanted: object, /) -> bytes: ...
def merge_principals(
    slots: object,
    digests: object,
    base: int,
    shorts: object,
    short_ends: object,
    wide: bool,
    part_codes: object,
    kept_arns: dict[int, str],
    data: object,
    ends: object,
    parts: object,
    batch_digests: object,
    arns: dict[int, str],
    out: object,
    new: object,
    start: int,
    /,
) -> tuple[int, int]: ...
