"""Mutation fuzz of the index's principal merge in C (kmstui/core/_scan.c, merge_principals,
digest_insert and digest_find: a batch's principals matched against the index's by digest, in
a hash table of codes) under AddressSanitizer and UndefinedBehaviorSanitizer, outside CI:
batches of hostile principals (control and invisible characters, lone surrogates, long and
empty short forms, one short form in several kinds, with and without ARNs), merged by the C
and by numpy's sorted digests (arena.IdentityVocabulary(compiled=False), the reference) with
digests as they are and made weak (a few bits: nearly every principal's digest is another's,
in the batch and in the index), compared value by value; then each function called with
arrays of random sizes, codes and offsets (they must refuse, never read or write out of
bounds).

Build a sanitised copy of the extension as scripts/fuzz_scan.py says, then run, from the
repository root:

    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \\
        PYTHONMALLOC=malloc python scripts/fuzz_merge.py SECONDS SEED

then rebuild the extension normally (pip install -e .).
"""

import random
import sys
import time

import numpy as np

from kmstui.core import _scan, arena, model
from kmstui.core.batch import PrincipalPart

seconds, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
PIECES = ["role/r", "user/", "", "\x00", "\x1b[31m", "\u200b", "\u202e", "\ud800", "é", "☃", "\U0001f600", "x" * 300]
KINDS = [("AssumedRole", "1", None), ("IAMUser", "1", None), ("AssumedRole", "2", None), ("AWSService", None, "s3")]
real_digests = arena.principal_digests


def identity(i: int) -> model.Identity:
    short = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 4))) + str(i % rng.choice([3, 50, 1000]))
    kind = rng.choice(KINDS)
    arn = rng.choice([None, None, f"arn:aws:iam::1:{short}", f"arn:{i % 4}"])
    return model.Identity(short, arn, *kind)


def merged_alike() -> int:
    """Batches merged by both ways; the number of batches."""
    bits = rng.choice([0, 2, 6, 64])  # 64: digests as they are
    if bits < 64:
        mask = np.uint64((1 << bits) - 1)
        arena.principal_digests = lambda *args: real_digests(*args) & mask
    else:
        arena.principal_digests = real_digests
    compiled, reference = arena.IdentityVocabulary(compiled=True), arena.IdentityVocabulary(compiled=False)
    compiled._LOAD = rng.choice([0.7, 0.99])  # a table full but for a slot: every probe goes round
    pool = [identity(i) for i in range(rng.randrange(1, 400))]
    batches = rng.randrange(1, 12)
    for _ in range(batches):
        chosen = [rng.choice(pool) for _ in range(rng.randrange(0, 80))]
        part = PrincipalPart.of_identities(dict.fromkeys(chosen)) if rng.random() < 0.6 else [None, *chosen]
        got, want = compiled.remap(part).tolist(), reference.remap(part).tolist()
        assert got == want, (got, want)
    assert list(compiled.values) == list(reference.values)
    for value in pool[:: max(1, len(pool) // 20)]:
        assert compiled.find(value) == reference.find(value)
    arena.principal_digests = real_digests
    return batches


def array(kind, size, high):
    return np.array([rng.randrange(-high, high) for _ in range(size)]).astype(kind)


def called_with_random_arrays() -> None:
    """Each function with arrays of random sizes and contents: it refuses, or answers in bounds."""
    slots = np.zeros(rng.choice([0, 1, 2, 3, 4, 8, 16, 64]), np.uint32)
    if len(slots):
        slots[:] = array(np.uint32, len(slots), 20) if rng.random() < 0.5 else 0
    digests = array(np.int64, rng.randrange(0, 20), 8)
    n = rng.randrange(0, 6)
    base = rng.randrange(-1, 12)
    ends_kind = rng.choice([np.uint32, np.int64])
    short_ends = np.sort(array(ends_kind, rng.randrange(0, 14), 30)) if rng.random() < 0.7 else array(ends_kind, 5, 30)
    args = [
        slots,
        digests,
        base,
        np.zeros(rng.randrange(0, 40), np.uint8),
        short_ends,
        ends_kind == np.int64,
        array(np.uint32, max(0, base + rng.randrange(-1, 2)), 4),
        {rng.randrange(0, 12): "arn"} if rng.random() < 0.3 else {},
        np.zeros(rng.randrange(0, 30), np.uint8),
        np.sort(array(np.int64, n + rng.randrange(0, 2), 30)),
        array(np.uint32, n, 4),
        array(np.int64, n + rng.randrange(-1, 2) if n else n, 8),
        {rng.randrange(0, 6): "arn"} if rng.random() < 0.3 else {},
        np.zeros(n + 1, np.uint32),
        np.zeros(n, np.int64),
        rng.randrange(-1, n + 2),
    ]
    for call in (
        lambda: _scan.merge_principals(*args),
        lambda: _scan.digest_find(slots, digests, array(np.int64, rng.randrange(0, 9), 8)),
        lambda: _scan.digest_insert(slots, digests, array(np.uint32, 3, 20), array(np.int64, rng.randrange(2, 4), 8)),
    ):
        try:
            call()
        except ValueError:
            pass


def called_with_a_state_perturbed() -> None:
    """merge_principals on a vocabulary's real state and a real batch, one thing changed: the
    index's offsets as int64 (as past 4 GiB) or pointing past its bytes, a slot holding a code
    not yet added or past the digests, an ARN kept for one side only, the batch's offsets
    past its bytes, its digests of the wrong size, an odd number of digests looked for."""
    vocabulary = arena.IdentityVocabulary(compiled=True)
    pool = [identity(i) for i in range(rng.randrange(1, 60))]
    vocabulary.remap(PrincipalPart.of_identities(dict.fromkeys(pool[: len(pool) // 2])))
    part = PrincipalPart.of_identities(dict.fromkeys(rng.choice(pool) for _ in range(rng.randrange(1, 40))))
    n = len(part) - 1
    vocabulary._reserve(n)
    data, ends = np.frombuffer(part.shorts, np.uint8), part.ends.astype(np.int64)
    arns = {code - 1: arn for code, arn in part.arns.items()}
    kinds = [(*part.kinds[k], i in arns) for i, k in enumerate(part.kind[1:].tolist())]
    parts = np.array([vocabulary._parts.code(kind) for kind in kinds], np.uint32)  # as remap makes them
    digests = arena.principal_digests(data, ends, parts, part.digests).view(np.int64)
    shorts = vocabulary.short_forms
    short_ends = np.frombuffer(shorts._ends, np.uint32).copy()
    wide = False
    slots, table = vocabulary._slots.copy(), vocabulary._digests.copy()
    kept_arns = dict(vocabulary._arns)
    what = rng.randrange(8)
    if what == 0:
        short_ends, wide = short_ends.astype(np.int64), True
    elif what == 1:
        short_ends[rng.randrange(len(short_ends))] = rng.choice([len(shorts.blob) + 5, 0, 1 << 31])
    elif what == 2 and len(short_ends) > 1:
        short_ends = short_ends.astype(np.int64)
        short_ends[rng.randrange(len(short_ends))] = rng.choice([-1, -(1 << 40), 1 << 40])
        wide = True
    elif what == 3:
        slots[rng.randrange(len(slots))] = rng.choice([len(vocabulary) + rng.randrange(3), len(table) + 1])
    elif what == 4:
        kept_arns = {code: "arn:other" for code in range(len(vocabulary))} if rng.random() < 0.5 else {}
    elif what == 5:
        ends[rng.randrange(len(ends))] = rng.choice([-1, len(data) + 1, 1 << 62])
    elif what == 6:
        digests = digests[: rng.randrange(n + 1)]
    else:
        try:
            _scan.digest_find(slots, table, np.zeros(rng.randrange(1, 16), np.uint8))
        except ValueError:
            pass
    try:
        _scan.merge_principals(
            slots, table, len(vocabulary), shorts.blob, short_ends, wide, vocabulary._part_codes, kept_arns,
            data, ends, parts, digests, arns, np.zeros(n + 1, np.uint32), np.zeros(n, np.int64), 0,
        )  # fmt: skip
    except ValueError:
        pass


end = time.monotonic() + seconds
runs = batches = calls = 0
while time.monotonic() < end:
    batches += merged_alike()
    runs += 1
    for _ in range(20):
        called_with_random_arrays()
        called_with_a_state_perturbed()
        calls += 4
print(f"fuzz_merge seed {seed}: {runs} runs, {batches} batches merged both ways alike, {calls} calls of random arrays")
