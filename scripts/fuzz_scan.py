"""Mutation fuzz of the C scanner (kmstui/core/_scan.c) under AddressSanitizer and
UndefinedBehaviorSanitizer, outside CI: scan() with every option (the encryption contexts
and CreateGrant's constraints read into pairs, the times, ids and requestParameters' spans
given per record too) and
surrogate_escapes(), on mutations of the scanner tests' samples (lone surrogate escapes among them),
in exactly-sized malloc'd buffers (numpy arrays) so that a read one byte past the end is
reported.

Build a sanitised copy of the extension and run, from the repository root:

    INCLUDE=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    SUFFIX=$(python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    gcc -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=all -I "$INCLUDE" kmstui/core/_scan.c -o "kmstui/core/_scan$SUFFIX"
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        PYTHONMALLOC=malloc python scripts/fuzz_scan.py SECONDS SEED

(add --coverage to the gcc line and run gcov on _scan.c afterwards to see which lines the
inputs reached), then rebuild the extension normally (pip install -e .).
"""

import glob
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import test_core_scan as t  # noqa: E402 - the test file's samples: SAMPLE, RESOLVED, ALMOST, HOSTILE, SPACED, ...

from kmstui.core import _scan, decode  # noqa: E402

seconds, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
seeds = [
    t.GOOD,
    t.delivered(t.SAMPLE),
    *t.HOSTILE,
    *t.SPACED,
    json.dumps({"Records": t.RESOLVED + t.ALMOST}, separators=(",", ":"), ensure_ascii=False).encode(),
    t.delivered(t.RESOLVED + t.ALMOST),
    json.dumps({"Records": t.RESOLVED + t.ALMOST}, indent=1).encode(),
]
many = [
    t.sessions(
        f"{t.STS}/Role{i % 7}/s-{i}" + ("x" * 700 if i % 50 == 0 else ""),
        invokedBy="s3.amazonaws.com" if i % 3 else ...,
    )
    for i in range(300)
]
seeds.append(json.dumps({"Records": many}, separators=(",", ":")).encode())
contexts = t.PLAIN_CONTEXTS + t.OTHER_CONTEXTS
seeds += [t._contexts_file(contexts), t._contexts_file(contexts, spaced=True)]
odd = [t._with(time=time, event_id=f"id-{i}") for i, time in enumerate(t.ODD_TIMES)]
odd += [t._with(time="2026-11-20T10:00:00Z", event_id=event_id) for event_id in t.ODD_IDS]
seeds += [json.dumps({"Records": odd}, ensure_ascii=False).encode(), t.delivered(odd)]
changes = []
for fields in t.PARAMETERS:
    change = t.kms("UpdateKeyDescription", t.key_arn())
    change.pop("requestParameters", None)
    change.pop("responseElements", None)
    changes.append({**change, **fields})
seeds += [t.delivered(changes), json.dumps({"Records": changes}, indent=1).encode()]
grants = [t._grant(g) for g in t.GRANTS]
seeds += [t.delivered(grants), json.dumps({"Records": grants}, indent=1, ensure_ascii=False).encode()]
seeds.append(t._contexts_file(contexts).replace(b'"b":"2","a":"1"', b'"b":"2","a":"1","b":"3"'))
# strings with an escape or UTF-8 at every distance from their start and end (the scanner's
# 16- and 32-byte steps), kept, skipped and inside a skipped object; cut short they end the buffer
edges = [b'{"userAgent":"%s","skipped":"%s","o":{"in":["%s"]}}' % (s, s, s) for s in t._strings(t.STRING_PARTS)[::5]]
seeds += [b'{"Records":[' + b",".join(edges[i : i + 200]) + b"]}" for i in range(0, len(edges), 200)]
# surrogate escapes, lone and paired, in a kept value, a skipped one and a name inside a value,
# the pairs cut short at the end of the buffer (the walk reads up to twelve bytes past a backslash)
lone = [b'{"userAgent":"%s","skipped":"%s","o":{"%s":1}}' % (e, e, e) for e in t.ESCAPES]
lone += [b'{"userAgent":"' + a + b + b'"}' for a in t.ESCAPES for b in t.ESCAPES]
seeds.append(b'{"Records":[' + b",".join(lone) + b"]}")
seeds += [b'{"Records":[{"userAgent":"\\ud83d\\ude00"}]}'[:cut] for cut in range(25, 45)]
# re-serialised: spaces, sorted, indented, each record's keys in its own order (issue 17)
seeds += [t._reserialised(t._repeating(), how) for how in t.SERIALISATIONS]
# another service's record, read up to its source and then only checked (skipped in _scan.c),
# followed by each text the tests put after that source
seeds += [t._skipping(after, b'"s3.amazonaws.com"') for after in t.AFTER_SOURCE]
for path in sorted(glob.glob(str(ROOT / "assets/demo/**/*.json.gz"), recursive=True))[:3]:
    seeds.append(gzip.decompress(open(path, "rb").read())[:200_000])
TOKENS = [
    b'"AssumedRole"',
    b'"arn:aws:sts::',
    b":assumed-role/",
    b'"111122223333"',
    b" (",
    b"/",
    b"\\u",
    b"\\ud800",
    b"\\ud83d\\ude00",
    b"\\uDBFF",
    b"\\udc00",
    b'"',
    b"\\",
    b'\\"',
    "\u20ac".encode(),
    b":",
    b'"userIdentity":',
    b'"accountId":',
    b'"arn":',
    b'"type":',
    b'"encryptionContext":',
    b'"eventTime":"2026-02-29T23:59:59Z"',
    b'"eventID":"0a1b2c3d-0000-4000-8000-00000000000a"',
    b'"requestParameters":',
    b'"requestParameters":null',
    b'"eventSource":"s3.amazonaws.com"',
    b'"eventSource":"kms.amazonaws.com"',
    b'"encryptionContextSubset":',
    b'"encryptionContextEquals":{"a":"b"}',
    b"9999-12-31T23:59:59Z",
    b"0000",
    b'{"k":"v"}',
    b'"":""',
    b"null",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b", ",
    b": ",
    b" ",
]
alphabet = b'{}[]":,\\ /(0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xff:'


def mutate(text: bytes) -> bytes:
    b = bytearray(text)
    for _ in range(rng.randint(1, 6)):
        if not b:
            b += rng.choice(TOKENS)
            continue
        at = rng.randrange(len(b))
        r = rng.random()
        if r < 0.25:
            b[at] = rng.choice(alphabet)
        elif r < 0.45:
            b.insert(at, rng.choice(alphabet))
        elif r < 0.6:
            del b[at : at + rng.randint(1, 8)]
        elif r < 0.8:
            b[at:at] = rng.choice(TOKENS)
        elif r < 0.9:
            b[at:at] = b[at : at + rng.randint(1, 60)]
        else:
            del b[at:]  # cut short: the end of the buffer is where overreads show
    return bytes(b)


def values(scanned) -> list:
    """Each field's raw text per record (None: no code), from a scan's columns."""
    return [
        None
        if column is None
        else [column[1][code - 1] if code else None for code in np.frombuffer(column[0], np.uint32)]
        for column in scanned[2]
    ]


def same_as_the_whole_walk(skipping, whole) -> None:
    """A scan that reads other services' records only up to their source (``keep``) refuses
    exactly what one reading every record whole does, and agrees with it on each record's
    source, and on every field of the records it reads whole."""
    assert (skipping is None) == (whole is None), "one walk refused what the other read"
    if whole is None:
        return
    assert skipping[:2] == whole[:2], "records or their spans differ"
    keep, texts = decode._SCAN_KEEP
    read, every = values(skipping), values(whole)
    sources = every[keep]
    assert read[keep] == sources, "sources differ"
    for r, source in enumerate(sources):
        whole_record = source is not None and (source in texts or b"\\" in source)
        for field, column in enumerate(read):
            if column is not None and field != keep:
                assert column[r] == (every[field][r] if whole_record else None), (r, field)


n = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    text = mutate(rng.choice(seeds))
    buf = np.frombuffer(text, dtype=np.uint8).copy() if text else b""
    _scan.scan(
        buf,
        decode._SCAN_FIELDS,
        decode._SCAN_KEEP,
        decode._SCAN_ROLES,
        decode._SCAN_CONTEXTS,
        decode._SCAN_TIMES,
        decode._SCAN_IDS,
        decode._SCAN_OBJECTS,
        decode._SCAN_GRANTS,
    )
    same_as_the_whole_walk(
        _scan.scan(buf, decode._SCAN_FIELDS, decode._SCAN_KEEP), _scan.scan(buf, decode._SCAN_FIELDS)
    )
    _scan.surrogate_escapes(buf)
    n += 1
print(f"seed {seed}: {n} inputs, no report; every one read alike by the walk that skips and the whole walk")
