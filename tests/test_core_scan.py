"""The C column scanner: built where a compiler is, and never different from the general path.

A delivered log file is read by the scanner (kmstui/core/_scan.c) when it can, and decoded
the general way (msgspec, record by record where needed) when it cannot. Whatever the
text, even broken or hostile, both ways must give the same batch: these tests load every
input twice and compare what the batches say, value by value.
"""

from __future__ import annotations

import gzip
import json
import pickle
import random
import shutil
import sysconfig
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from benchmarks import synth  # each record's keys shuffled, as the bench's --spaced trails are
from kmstui.core import decode, sources
from kmstui.core.contexts import NOT_PLAIN
from kmstui.core.decode import STRING_COLUMNS
from kmstui.core.export import EventWriter
from kmstui.core.model import Identity

from records import (
    AWS_DOCS,
    KEY1,
    KEY2,
    KEY3,
    REAL,
    REPO,
    alias_arn,
    assumed_role,
    aws_internal,
    key_arn,
    key_resource,
    kms,
    load,
    load_file,
    needs_outside_data,
    other_service,
    record,
    rows,
    trail_config,
    write,
)

DEMO = REPO / "assets/demo"
scanner = pytest.mark.skipif(decode._scan is None, reason="the column scanner is not built here")


def _compiler() -> bool:
    return bool(shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]))


@pytest.mark.skipif(not _compiler(), reason="no C compiler: the scanner is optional")
def test_the_scanner_is_built_where_a_compiler_is():
    assert decode._scan is not None, "pip install should have compiled kmstui/core/_scan.c (see hatch_build.py)"


def meaning(batch) -> dict:
    """What a batch says, with every code replaced by its value."""
    vocab = batch.vocab
    columns = batch.columns
    said: dict = {}
    for name in STRING_COLUMNS:
        said[name] = [vocab[name][code] for code in columns.get(name, [])]
    said["principal"] = [batch.principals[code] for code in columns.get("principal", [])]
    for name, table in (("key0", "key"), ("key1", "key"), ("alias", "alias"), ("trail", "trail")):
        said[name] = [vocab[table][code] for code in columns.get(name, [])]
    for name in ("time", "origin", "ordinal", "rawlen", "readonly", "eid"):
        said[name] = list(columns.get(name, []))
    part = batch.contexts
    starts = [0, *part.counts.cumsum().tolist()]
    pairs = [
        (part.labels[part.label[i]], part.keys[part.key[i]], part.values[part.value[i]]) for i in range(len(part.label))
    ]
    said["ctx"] = [pairs[starts[code - 1] : starts[code]] if code else [] for code in columns.get("ctx", [])]
    said["extra_keys"] = {row: [vocab["key"][k] for k in keys] for row, keys in batch.extra_keys.items()}
    said["overflow"] = dict(batch.event_id_overflow)
    said["parameters"] = {row: json.loads(raw) for row, raw in batch.parameters.items()}
    said["changes"] = [
        (c.row, c.time, c.action, c.trail, c.request, c.response, c.error, batch.principals[c.principal])
        for c in batch.trail_changes
    ]
    said["bindings"] = sorted(
        (
            (vocab["alias"][b.alias], vocab["key"][b.key], b.kind, b.when, first, last)
            for b, (first, last) in batch.alias_bindings
        ),
        key=repr,
    )
    said["log_files"] = [(vocab["trail"][f.trail], f.s3_arn, f.time) for f in batch.log_files]
    said["sources"] = [(s.format, s.records, s.events, dict(s.ignored), s.problems, s.error) for s in batch.sources]
    return said


def both_ways(path: Path, monkeypatch) -> tuple[dict, dict]:
    scanned = meaning(load_file(str(path), "file")[0])
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_scan", None)
        general = meaning(load_file(str(path), "file")[0])
    return scanned, general


def assert_same(path: Path, monkeypatch) -> dict:
    scanned, general = both_ways(path, monkeypatch)
    for name in general:
        assert scanned[name] == general[name], name
    return scanned


def delivered(records: list) -> bytes:
    """A log file as CloudTrail delivers it: compact, one line."""
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


SAMPLE = [
    kms("Decrypt", key_arn(), request={"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::bucket/object"}}),
    kms(
        "GenerateDataKey",
        key_arn(),
        request={"keyId": alias_arn("app"), "encryptionContext": {"tenant": "t-1", "n": "2"}},
        identity=assumed_role("Worker", "session-9"),
    ),
    kms(
        "ReEncrypt",
        None,
        request={
            "sourceKeyId": key_arn(KEY1),
            "destinationKeyId": key_arn(KEY2),
            "sourceEncryptionContext": {"a": "1"},
            "destinationEncryptionContext": {"b": 2},
        },
        resources=[key_resource(key_arn(KEY1)), key_resource(key_arn(KEY2)), key_resource(key_arn(KEY3))],
    ),
    kms(
        "CreateGrant",
        key_arn(),
        request={"keyId": key_arn(), "constraints": {"encryptionContextSubset": {"dept": "it"}}},
    ),
    kms(
        "UpdateAlias",
        None,
        request={"aliasName": "alias/app", "targetKeyId": KEY2},
        resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY1)), key_resource(key_arn(KEY2))],
    ),
    kms(
        "Decrypt",
        key_arn(),
        request={"keyId": "alias/app"},
        resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY2))],
    ),
    kms("Decrypt", key_arn(), error="AccessDenied", message='not allowed \u2014 \u00e9t\u00e9 "quoted" \\ back'),
    kms(
        "DeleteExpiredKeyMaterial", None, event_type="AwsServiceEvent", identity=aws_internal(), details={"keyId": KEY1}
    ),
    kms(
        "GenerateDataKey",
        key_arn(),
        request={
            "keySpec": "AES_256",
            "encryptionContext": {
                "aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
                "aws:s3:arn": "arn:aws:s3:::logs/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json.gz",
            },
        },
        identity={"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
    ),
    trail_config(
        "PutEventSelectors",
        request={
            "trailName": "main",
            "eventSelectors": [
                {
                    "readWriteType": "All",
                    "includeManagementEvents": True,
                    "excludeManagementEventSources": ["kms.amazonaws.com"],
                }
            ],
        },
    ),
    other_service("GetObject"),
    record("LookupEvents", source="cloudtrail.amazonaws.com"),
    {**kms("Decrypt", key_arn()), "eventID": "NOT-A-UUID-\u00e9", "readOnly": True},
    kms("CreateKey", None, response={"keyMetadata": {"arn": key_arn("new-key"), "creationDate": 1.7e9}}),
]


@scanner
def test_the_scanner_reads_a_delivered_file_as_the_general_path_does(tmp_path, monkeypatch):
    said = assert_same(write(tmp_path / "log.json", delivered(SAMPLE)), monkeypatch)
    assert said["sources"][0][:3] == ("cloudtrail", len(SAMPLE), len(SAMPLE) - 2)
    assert said["log_files"] and said["changes"] and said["extra_keys"] and said["overflow"]


@scanner
def test_the_scanner_reads_the_demo_files_as_the_general_path_does(monkeypatch):
    paths = sorted(DEMO.rglob("*.json.gz"))[:40]  # the demo is the project's own: no skip when it is missing
    assert paths, f"no delivered log files in {DEMO}"
    for path in paths:
        assert_same(path, monkeypatch)


@scanner
@needs_outside_data(AWS_DOCS)
def test_the_scanner_reads_every_corpus_record_as_the_general_path_does(tmp_path, monkeypatch):
    records = []
    for path in sorted(AWS_DOCS.rglob("*.json")):
        value = json.loads(path.read_text())
        items = value if isinstance(value, list) else value.get("Records", [value]) if isinstance(value, dict) else []
        records.extend(item for item in items if isinstance(item, dict) and "eventSource" in item)
    assert len(records) > 20
    said = assert_same(write(tmp_path / "corpus.json", delivered(records)), monkeypatch)
    assert said["sources"][0][0] == "cloudtrail"


GOOD = delivered(SAMPLE[:3])
HOSTILE = [
    GOOD[:-1],  # cut short
    GOOD + b"x",  # something after the file
    GOOD.replace(b'"eventSource"', b'"event\\u0053ource"', 1),  # an escaped field name
    GOOD.replace(b'"Decrypt"', b'"De\\u0063rypt"', 1),  # an escaped value
    GOOD.replace(b'"kms.amazonaws.com"', b'"kms.amazonaws.co\\u006d"', 1),  # the same source spelt two ways
    GOOD.replace(b'"kms.amazonaws.com"', b'"KMS.amazonaws.com"', 1),
    delivered(
        [
            trail_config("StopLogging"),
            trail_config("StartLogging", "other"),
            other_service("LookupEvents", "cloudtrail.amazonaws.com"),
        ]
    ).replace(b'"cloudtrail.amazonaws.com"', b'"cloudtrail.amazonaws.co\\u006d"', 1),  # CloudTrail spelt two ways
    GOOD.replace(b'"eventSource":"kms.amazonaws.com"', b'"eventSource":["kms.amazonaws.com"]', 1),
    GOOD.replace(b'"Decrypt"', b'"De\x01crypt"', 1),  # a control character
    GOOD.replace(b'"Decrypt"', b'"De\xffcrypt"', 1),  # not UTF-8
    GOOD.replace(b'"Decrypt"', b'"De\xed\xa0\x80crypt"', 1),  # a UTF-8 surrogate
    GOOD.replace(b'"Decrypt"', b'"\\x41"', 1),  # a bad escape
    GOOD.replace(b'"eventName":"Decrypt"', b'"eventName":7', 1),  # a field of another type
    GOOD.replace(b'"eventName":"Decrypt"', b'"eventName":"Decrypt","eventName":"Encrypt"', 1),  # a field twice
    GOOD.replace(b'"readOnly":true', b'"readOnly":"yes"', 1),
    GOOD.replace(b'"requestParameters":{', b'"requestParameters":"{', 1),
    GOOD.replace(b'"userIdentity":{', b'"userIdentity":[{', 1),
    GOOD.replace(b'"eventVersion":"1.08"', b'"eventVersion":01', 1),  # a bad number
    GOOD.replace(b'"eventVersion":"1.08"', b'"eventVersion":-1.5e+300', 1),
    GOOD.replace(b'"eventVersion":"1.08"', b'"eventVersion":' + b"[" * 200 + b"]" * 200, 1),  # deep
    GOOD.replace(b'"eventVersion":"1.08"', b'"eventVersion":tru', 1),
    GOOD.replace(b'{"Records":[', b'{"Records":[null,', 1),  # a record that is not an object
    GOOD.replace(b'{"Records":[', b'{"Other":{"a":[1,2]},"Records":[', 1),
    b'{"Records":[]}',
    b'{"Records":[{}]}',
    b'{"Records":[{"eventSource":null,"requestParameters":null,"userIdentity":null}]}',
    b'{"Records":[' + b",".join([b'{"eventSource":"kms.amazonaws.com","eventName":"Decrypt"}'] * 3000) + b"]}",
    json.dumps({"Records": SAMPLE[:2]}, indent=2).encode(),
]


@scanner
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_broken_and_hostile_text_reads_the_same_either_way(tmp_path, monkeypatch, text):
    assert_same(write(tmp_path / "log.json", text), monkeypatch)


@scanner
def test_a_thousand_random_mutations_read_the_same_either_way(tmp_path, monkeypatch):
    """A cheap fuzzer, deterministic: flip, insert, delete and duplicate bytes of a small file."""
    rng = random.Random(20261124)
    path = tmp_path / "log.json"
    for _ in range(1000):
        write(path, mutated(rng, GOOD, 4, lambda text: rng.randrange(len(text))))
        assert_same(path, monkeypatch)


MUTATIONS = b'{}[]":,\\ 0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xff'


def mutated(rng: random.Random, base: bytes, most: int, where: Callable[[bytearray], int]) -> bytes:
    """``base`` with 1 to ``most`` bytes flipped, inserted, deleted or runs duplicated, each
    at the place ``where`` picks."""
    text = bytearray(base)
    for _ in range(rng.randint(1, most)):
        at = where(text)
        action = rng.random()
        if action < 0.4:
            text[at] = rng.choice(MUTATIONS)
        elif action < 0.7:
            text.insert(at, rng.choice(MUTATIONS))
        elif action < 0.9:
            del text[at]
        else:
            text[at:at] = text[at : at + rng.randint(1, 40)]
    return bytes(text)


@scanner
def test_the_scanner_refuses_what_it_cannot_do():
    scan = decode._scan.scan
    assert scan(b'{"Records":[{"a":1}]}', [(b"a", -1)])[0] == 1
    assert scan(b'[{"a":1}]', [(b"a", -1)]) is None  # not a log file: the general path says why
    with pytest.raises(ValueError):
        scan(b"{}", [(b"a", 0)])  # a parent must come first
    with pytest.raises(ValueError):
        scan(b"{}", [(b"a", -1), (b"b", 0), (b"c", 1)])  # one level deep only
    with pytest.raises(ValueError):
        scan(b"{}", [(b"x" * 100, -1)])
    with pytest.raises(TypeError):
        scan("text", [(b"a", -1)])
    with pytest.raises(ValueError):
        scan(b"{}", [(b"a", -1), (b"b", 0)], (1, [b'"x"']))  # keep names a field of the record
    fields = [(b"u", -1), (b"type", 0), (b"arn", 0), (b"account", 0), (b"other", -1)]
    assert scan(b'{"Records":[]}', fields, None, (1, 2, 3, [1, 2]))[2][-1] == (b"", [])  # the sessions column
    for roles in ((1, 2, 3, [3]), (0, 2, 3, []), (1, 2, 4, []), (1, 2, 3, [9]), (1, 2, 7, []), (1, 2, 3, [-1])):
        with pytest.raises(ValueError):
            scan(b"{}", fields, None, roles)  # fields of one object, the account kept
    for roles in ((1, 2), (1, 2, 3, 4), (1, 2, 3, ["x"])):
        with pytest.raises(TypeError):
            scan(b"{}", fields, None, roles)
    for times, ids in ((4, 4), (5, -1), (-1, 0), (-2, -1), (4, 1), (1, -1)):  # two other kept fields
        with pytest.raises(ValueError):
            scan(b"{}", fields, (4, [b'"x"']) if times == 4 and ids == 1 else None, (1, 2, 3, [1, 2]), -1, times, ids)
    assert scan(b'{"Records":[]}', fields, None, (1, 2, 3, [1, 2]), -1, 4, -1)[4:] == (b"", None, None)
    for contexts, grants in ((-1, 4), (4, 4), (4, 0), (4, 9)):  # another kept field, with contexts
        with pytest.raises(ValueError):
            scan(b"{}", fields, None, None, contexts, -1, -1, -1, grants)
    assert scan(b'{"Records":[]}', fields, None, None, 4, -1, -1, -1, 1)[3][5] == b""
    for objects in (1, 4, 5, -2):  # a field holding others
        with pytest.raises(ValueError):
            scan(b"{}", fields, None, None, -1, -1, -1, objects)
    assert scan(b'{"Records":[{"u":{"type":"x"}," u":1}]}', fields, None, None, -1, -1, -1, 0)[6] == bytes(
        [17, 0, 0, 0, 29, 0, 0, 0]
    )


@scanner
def test_records_of_other_services_keep_only_their_source():
    text = b'{"Records":[{"s":"kms","n":"A"},{"s":"s3","n":"B"},{"s":"k\\u006ds","n":"C"}]}'
    count, _spans, (sources, names), *_ = decode._scan.scan(text, [(b"s", -1), (b"n", -1)], (0, [b'"kms"']))
    assert count == 3 and sources[1] == [b'"kms"', b'"s3"', b'"k\\u006ds"']
    assert names[1] == [b'"A"', b'"C"']  # B was not read; C, escaped, is judged in Python


# Another service's record is read up to its source, then only checked as JSON to its end
# (skipped in _scan.c), each member stepped over by name; what the whole walk might
# judge otherwise is left to it. SKIPPING is a file whose middle record's source is SOURCE,
# and the texts put after it (at REST, in place of its eventName) are what the tests vary.
SOURCE, REST = b'"SOURCE"', b'"REST":0'
_NESTED_62 = b"[" * 62 + b"]" * 62  # the deepest value a field of requestParameters may hold
SKIPPING = delivered(
    [
        kms("Decrypt", key_arn(), request={"keyId": KEY1}),
        {
            **other_service("PutObject", request={"bucketName": "b", "keyId": "k"}),
            "eventSource": "SOURCE",
            "eventName": "AFTER",
        },
        kms("Encrypt", key_arn(), request={"keyId": KEY2}),
    ]
).replace(b'"eventName":"AFTER"', REST)
AFTER_SOURCE = [
    b'"eventName":"PutObject"',
    b'"eventName":"PutObject","eventSource":"kms.amazonaws.com"',  # the last copy of a field wins
    b'"eventSource":"kms.amazonaws.com","eventName":"PutObject","eventSource":"s3.amazonaws.com"',
    b'"eventSource":null,"eventName":"Decrypt"',
    b'"eventSource":"kms.amazonaws.co\\u006d","eventName":"Decrypt"',  # Python judges it
    b'"event\\u0053ource":"kms.amazonaws.com"',  # an escaped name
    b'"event\\u004eame":"PutObject"',
    b'"eventName":"Put\x01Object"',  # a control character
    b'"eventName":"Put\xffObject"',  # not UTF-8
    b'"eventName":"Put\\xObject"',  # a bad escape
    b'"eventName":"Put\\ud800Object"',  # a lone surrogate: the repair first
    b'"eventName":"Put\\u00e9\\ud83d\\ude00Object"',
    b'"eventName":PutObject',
    b'"eventName":01',
    b'"eventName":"PutObject",',
    b'"eventName" "PutObject"',
    b'"eventName":"PutObject","requestParameters":"b"',  # a field holding others, not an object
    b'"eventName":"PutObject","requestParameters":[{"keyId":"k"}]',
    b'"eventName":"PutObject","requestParameters":7',
    b'"eventName":"PutObject","requestParameters":null,"userIdentity":null',
    b'"eventName":"PutObject","requestParameters":{"key\\u0049d":"k"}',  # an escaped name inside it
    b'"eventName":"PutObject","requestParameters":{"keyId":"k\\u0049"}',  # an escaped value inside it
    b'"eventName":"PutObject","requestParameters":{"keyId":' + _NESTED_62 + b"}",  # as deep as it may be
    b'"eventName":"PutObject","requestParameters":{"keyId":[' + _NESTED_62 + b"]}",  # deeper
    b'"eventName":"PutObject","tlsDetails":{"a":' + _NESTED_62 + b"}",  # not a field holding others
    b'"eventName":"PutObject","tlsDetails":{"a":{"b":' + _NESTED_62 + b"}}",
    b'"eventName":"PutObject","requestParameters":{"keyId":"k","keyId":{}}',
    b'"eventName":"PutObject","userIdentity":{"type":"AssumedRole","type":"IAMUser"},"resources":[{"ARN":"a"}]',
    b'"eventName":"PutObject","x":{"\\u0041":"\\ud800"}',
    b'"eventName":"PutObject","x":{"\\u0041":"\\"\\/"}',
    b'"eventName":"PutObject","' + b"n" * 70 + b'":{"a":1}',  # a name longer than any field's
]


def _skipping(after: bytes, source: bytes) -> bytes:
    return SKIPPING.replace(REST, after).replace(SOURCE, source)


def _scanned(text: bytes):
    return decode._scan.scan(text, decode._SCAN_FIELDS, decode._SCAN_KEEP)


@scanner
@pytest.mark.parametrize("after", AFTER_SOURCE, ids=range(len(AFTER_SOURCE)))
def test_another_services_record_is_checked_to_its_end_as_a_kms_record_is(tmp_path, monkeypatch, after):
    """Whatever follows its source, another service's record makes the scanner refuse the
    file exactly when the same record from KMS does, and the file reads the same either way."""
    other, kms_record = _skipping(after, b'"s3.amazonaws.com"'), _skipping(after, b'"kms.amazonaws.com"')
    assert (_scanned(other) is None) == (_scanned(kms_record) is None)
    assert_same(write(tmp_path / "log.json", other), monkeypatch)


@scanner
def test_a_later_source_from_kms_reads_the_record_whole():
    text = _skipping(b'"eventName":"PutObject","eventSource":"kms.amazonaws.com"', b'"s3.amazonaws.com"')
    count, _spans, columns, *_ = _scanned(text)
    sources, names = columns[0], columns[1]
    assert count == 3 and np.frombuffer(sources[0], dtype=np.uint32).tolist() == [1, 1, 1]
    assert names[1] == [b'"Decrypt"', b'"PutObject"', b'"Encrypt"']
    keys = columns[[name for name, _ in decode._SCAN_FIELDS].index(b"keyId")]
    assert keys[1] == [f'"{KEY1}"'.encode(), b'"k"', f'"{KEY2}"'.encode()]


@scanner
@pytest.mark.parametrize("first", [False, True])
def test_another_services_record_has_no_time_id_or_parameters(first):
    """Read no further than its source, it has none, whether they come before its source or after."""
    at = [name for name, _ in decode._SCAN_FIELDS].index
    other = other_service("PutObject", request={"bucketName": "b"}, event_id="an-id")
    if first:  # its time, id and parameters before its source
        other = {k: other[k] for k in ("eventTime", "eventID", "requestParameters")} | other
    text = delivered([kms("Decrypt", key_arn(), request={"keyId": KEY1}), other])
    spec = (at(b"eventTime"), at(b"eventID"), at(b"requestParameters"))
    times, ids, objects = decode._scan.scan(text, decode._SCAN_FIELDS, decode._SCAN_KEEP, None, -1, *spec)[4:]
    assert np.frombuffer(times, dtype=np.int64).tolist() == [1714564800, -(2**62)]
    assert ids[36:] == bytes(36) and ids[:36] != bytes(36)
    assert np.frombuffer(objects, dtype=np.uint32).tolist()[2:] == [0, 0]


@scanner
def test_a_thousand_mutations_after_another_services_source_read_the_same_either_way(tmp_path, monkeypatch):
    """Bytes flipped, inserted, deleted and duplicated after the source of another service's
    record: refused exactly when the same record from KMS is, and the same either way."""
    rng = random.Random(20261202)
    path = tmp_path / "log.json"
    base = _skipping(b'"eventName":"PutObject"', b"SOURCE")
    start = base.index(b"SOURCE") + len(b"SOURCE") + 1  # just after the source's closing quote
    stop = base.index(b'{"eventVersion"', start)  # the next record
    for _ in range(1000):
        text = mutated(rng, base, 4, lambda text: rng.randrange(start, min(stop, len(text))))
        other, kms_record = (
            text.replace(b"SOURCE", b"s3.amazonaws.com", 1),
            text.replace(b"SOURCE", b"kms.amazonaws.com", 1),
        )
        assert (_scanned(other) is None) == (_scanned(kms_record) is None), other
        write(path, other)
        assert_same(path, monkeypatch)


def sessions(arn, account="111122223333", **fields) -> dict:
    """A KMS record whose caller is an assumed role given by its ARN (and any identity field)."""
    identity = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:x", "arn": arn, "accountId": account, **fields}
    return kms("Decrypt", key_arn(), identity={k: v for k, v in identity.items() if v is not ...})


STS = "arn:aws:sts::111122223333:assumed-role"
# assumed-role callers: the first few of the shape the scanner resolves, then every way of
# almost being it, each of which Python must resolve the general way
RESOLVED = [
    sessions(f"{STS}/Worker/s-1"),
    sessions(f"{STS}/Worker/s-2", invokedBy="s3.amazonaws.com"),
    sessions(f"{STS}/Wörker/sess (1) é/with/slashes"),  # a session holds anything
    sessions(f"{STS}/x /(y"),  # a role ending in a space, a session starting with "("
]
ALMOST = [
    sessions("arn:aws-cn:sts::111122223333:assumed-role/Worker/s-1"),  # another partition
    sessions(f"{STS}/Worker/s-1", account="444455556666"),  # another account
    sessions(f"{STS}/Worker/s-1", account="1111:22223333"),
    sessions("arn:aws:sts::1111:22223333:assumed-role/Worker/s-1", account="1111:22223333"),
    sessions(f"{STS}/Worker/s-1", account=""),
    sessions(f"{STS}/Worker/s-1", account=None),
    sessions(f"{STS}/Worker/s-1", account=...),
    sessions(f"{STS}/a (b/s-1"),  # " (" in the role: its short form does not give it back
    sessions(f"{STS}/Worker/"),  # no session
    sessions(f"{STS}/Worker"),
    sessions(f"{STS}//s-1"),  # no role
    sessions(f"{STS}/"),
    sessions("arn:aws:sts::111122223333:assumed-role"),
    sessions("arn:aws:sts::"),
    sessions(""),
    sessions(None),
    sessions(...),
    {**sessions(f"{STS}/Worker/s-1"), "userIdentity": {"type": "AssumedRole", "arn": f"{STS}/Worker/s-1"}},
    {**sessions(f"{STS}/Worker/s-1"), "userIdentity": {"type": "AssumedRole"}},
    {**sessions(f"{STS}/Worker/s-1"), "userIdentity": {"type": "IAMUser", "arn": f"{STS}/Worker/s-1"}},
    {**sessions(f"{STS}/Worker/s-1"), "userIdentity": {**sessions(f"{STS}/Worker/s-1")["userIdentity"], "type": None}},
]


@scanner
def test_the_scanner_resolves_plain_assumed_role_sessions_as_python_does(tmp_path, monkeypatch):
    text = json.dumps({"Records": RESOLVED + ALMOST}, separators=(",", ":"), ensure_ascii=False).encode()
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    columns = decode._scan_columns(text).columns
    codes, shorts = columns[decode.SESSIONS]
    assert shorts == [
        None,
        "role/Worker (s-1)",
        "role/Worker (s-2)",
        "role/Wörker (sess (1) é/with/slashes)",
        "role/x  ((y)",
    ]
    assert codes.tolist() == [1, 2, 3, 4] + [0] * len(ALMOST)  # the rest the general way
    arn_codes, _arns = columns["userIdentity.arn"]
    assert arn_codes[: len(RESOLVED)].tolist() == [0] * len(RESOLVED)  # not decoded: not needed
    assert said["principal"][: len(RESOLVED)] == [
        ("role/Worker (s-1)", None, "AssumedRole", "111122223333", None),
        ("role/Worker (s-2)", None, "AssumedRole", "111122223333", "s3.amazonaws.com"),
        ("role/Wörker (sess (1) é/with/slashes)", None, "AssumedRole", "111122223333", None),
        ("role/x  ((y)", None, "AssumedRole", "111122223333", None),
    ]


@scanner
@pytest.mark.parametrize("escape", [b"Worker/s\\u002d1", b"Worker\\/s-1", b"W\\u00f6rker/s-1"])
def test_an_escaped_session_arn_is_resolved_the_general_way(tmp_path, monkeypatch, escape):
    text = delivered([sessions(f"{STS}/Worker/s-1")]).replace(b"Worker/s-1", escape)
    assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert decode._scan_columns(text)[2][decode.SESSIONS][1] == [None]


SPACED = [
    json.dumps({"Records": SAMPLE}).encode(),  # json.dumps's default spacing
    json.dumps({"Records": SAMPLE}, sort_keys=True).encode(),  # another key order
    json.dumps({"Records": SAMPLE}, indent=2, sort_keys=True).encode(),
    b"\n\t " + json.dumps({"Records": SAMPLE}, indent="\t").encode() + b"\r\n",
]


@scanner
@pytest.mark.parametrize("text", SPACED, ids=["spaced", "sorted", "indented", "tabs"])
def test_a_re_serialised_trail_takes_the_scanner_too(tmp_path, monkeypatch, text):
    """Whitespace and key order must not send a file to the slower general path."""
    scanned = []
    scan = decode._scan_columns
    monkeypatch.setattr(decode, "_scan_columns", lambda data: scanned.append(scan(data)) or scanned[-1])
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert scanned and scanned[0] is not None
    assert said["sources"][0][:3] == ("cloudtrail", len(SAMPLE), len(SAMPLE) - 2)


SURROGATES = [
    b"",
    b"\\",
    b"\\u",
    b"\\ud",
    b"\\uD",
    b"x\\ud800",
    b'"\\\\ud800"',  # an escaped backslash, then "ud800": a false alarm, as in Python
    b"\\u00e9\\uDFFF",
    b"ud800\\",
    b"\\x" * 1000 + b"\\ud",
]


@scanner
def test_the_quick_surrogate_test_answers_as_python_does():
    rng = random.Random(7)
    texts = [*SURROGATES, *HOSTILE, *SPACED]
    for _ in range(2000):
        texts.append(bytes(rng.choice(b"\\uUdD0x") for _ in range(rng.randint(0, 12))))
    for text in texts:
        assert decode._scan.surrogate_escapes(text) == sources._python_may_hold_surrogates(text), text


# escapes that may or may not be lone surrogates, for the scanner's walk to tell apart as
# sources.repair_surrogates does: an escape after an escape, from each string's start
ESCAPES = [
    b"\\ud800",
    b"\\uDBFF",
    b"\\udc00",
    b"\\uDfFf",
    b"\\ud83d\\ude00",  # a pair
    b"\\uD83D\\uDE00",
    b"\\ud83d\\u0041",  # a high half, then not a low one
    b"\\ud83dx\\ude00",  # a pair split by text: two lone halves
    b"\\ude00\\ud83d",  # the halves the wrong way round
    b"\\\\ud800",  # an escaped backslash, then "ud800"
    b"\\\\\\ud800",  # an escaped backslash, then a lone surrogate
    b"\\ud7ff",  # not surrogates
    b"\\ue000",
    b"\\u00e9",
    b"\\n",
    b"x",
]


@scanner
def test_the_walk_refuses_a_lone_surrogate_escape_as_the_repair_finds_it():
    """The scanner reads no text that sources.repair_surrogates would change, and every other:
    the loader reads files without that repair's pass and repairs only what the walk refuses
    (decode._repaired_scan). Escapes in a value it keeps, one it skips, a member's name inside
    a value, and a member of the file beside the records."""
    rng = random.Random(17)
    places = [
        b'{"Records":[{"userAgent":"%s","eventName":"x"}]}',
        b'{"Records":[{"other":"%s"}]}',
        b'{"Records":[{"responseElements":{"a":[{"%s":1}]}}]}',
        b'{"Other":["%s"],"Records":[]}',
        b'{"Records":[{"errorMessage":"%s"}]}',
    ]
    refused = read = 0
    for _ in range(3000):
        escapes = b"".join(rng.choice(ESCAPES) for _ in range(rng.randint(1, 4)))
        text = rng.choice(places).replace(b"%s", escapes)
        repaired = sources.repair_surrogates(text)
        assert decode._scan.scan(repaired, decode._SCAN_FIELDS) is not None, repaired  # a repaired text is read
        lone = repaired != text
        assert (decode._scan.scan(text, decode._SCAN_FIELDS) is None) == lone, text
        refused += lone
        read += not lone
    assert refused > 500 and read > 500


@scanner
@pytest.mark.parametrize("field", ["description", "userAgent", "extra"])
@pytest.mark.parametrize("escape", ESCAPES, ids=range(len(ESCAPES)))
def test_a_delivered_file_with_a_lone_surrogate_reads_as_the_general_path_does(tmp_path, monkeypatch, escape, field):
    """Repaired, whichever field holds it: the description in a change's parameters (kept as
    raw text), the user agent (decoded), a field kmstui does not read (the record's text)."""
    record = kms("UpdateKeyDescription", key_arn(), request={"keyId": KEY1, "description": "text"})
    record = {**record, "userAgent": "text", "extra": "text"}
    if field == "description":
        record["requestParameters"]["description"] = "MARK"
    else:
        record[field] = "MARK"
    text = delivered([record, kms("Decrypt", key_arn())]).replace(b"MARK", escape)
    path = write(tmp_path / "log.json", text)
    assert_same(path, monkeypatch)
    written = json.loads(sources.repair_surrogates(text))["Records"][0]
    assert json.loads(load_file(str(path), "file")[0].parameters[0])[0] == written["requestParameters"]
    index = load(path)
    for row in rows(index):
        json.dumps(index.record(row), ensure_ascii=False).encode()  # writable: no lone surrogate left


@scanner
def test_one_session_spelt_two_ways_is_one_principal(tmp_path, monkeypatch):
    """Two raw texts, one value: the resolved sessions are interned by value, not by text."""
    same = sessions(f"{STS}/Worker/s-1", invokedBy="s3.amazonaws.com")
    text = delivered([same, same, sessions(f"{STS}/Worker/s-2")]).replace(
        b'"s3.amazonaws.com"', b'"s3.amazonaws.co\\u006d"', 1
    )
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert said["principal"][0] == said["principal"][1]
    batch = load_file(str(write(tmp_path / "log.json", text)), "file")[0]
    assert len(batch.principals) == 3  # None, s-1 once, s-2


@scanner
def test_many_and_long_sessions_read_the_same_either_way(tmp_path, monkeypatch):
    """More sessions than the scanner's first table holds, and short forms longer than its stack buffer."""
    records = [
        sessions(f"{STS}/Role{i % 7}/s-{i}" + "x" * (600 if i % 50 == 0 else 0), invokedBy="s3.amazonaws.com")
        for i in range(300)
    ]
    text = delivered(records * 2)
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert said["principal"][0][0] == "role/Role0 (s-0" + "x" * 600 + ")"
    assert len(decode._scan_columns(text)[2][decode.SESSIONS][1]) == 301


def _real_records() -> list[dict]:
    """Every CloudTrail record object of the public corpus, as plain JSON reads them."""
    found = []
    for path in sorted(REAL.rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".gz", ".jsonl", ".log"):
            continue
        try:
            text = path.read_bytes()
            if text[:2] == b"\x1f\x8b":
                text = gzip.decompress(text)
            lines = [json.loads(text)]
        except ValueError:
            try:
                lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError:
                continue
        for value in lines:
            items = (
                value if isinstance(value, list) else value.get("Records", [value]) if isinstance(value, dict) else []
            )
            found.extend(
                item for item in items if isinstance(item, dict) and ("eventSource" in item or "eventName" in item)
            )
    return found


@scanner
@needs_outside_data(REAL)
def test_the_public_corpus_reads_the_same_either_way(tmp_path, monkeypatch):
    """Records nobody on the project wrote: each file as it is, then all of them as one
    delivered file, compact and with plain non-ASCII text, so that the scanner reads them."""
    files = [path for path in sorted(REAL.rglob("*")) if path.is_file() and path.name != "PROVENANCE.md"]
    assert len(files) > 100
    for path in files:
        assert_same(path, monkeypatch)
    records = _real_records()
    assert len(records) > 3000
    for ascii_only in (True, False):
        text = json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=ascii_only).encode()
        said = assert_same(write(tmp_path / "real.json", text), monkeypatch)
        assert said["sources"][0][0] == "cloudtrail"
        scanned = decode._scan_columns(text)
        assert scanned is not None, "the scanner should read the corpus as one delivered file"
        assert len(scanned[2][decode.SESSIONS][1]) > 5  # real assumed-role sessions, resolved in C


def test_a_batch_comes_back_from_a_worker_whole(tmp_path):
    """Workers pickle their batches back; the principals travel as columns (bytes and
    arrays, no Identity object) and must arrive equal, with the rest of the batch."""
    text = delivered([*RESOLVED, *ALMOST, *SAMPLE])
    batch = load_file(str(write(tmp_path / "log.json", text)), "file")[0]
    back = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    principals = back.principals
    assert principals[0] is None and all(type(p) is Identity for p in principals[1:])
    assert len(principals) == len(batch.principals) > len(RESOLVED)
    assert meaning(back) == meaning(batch) and back.vocab == batch.vocab and principals == batch.principals
    assert principals is not batch.principals and isinstance(principals.shorts, bytes)


def _context(context) -> dict:
    return kms("Decrypt", key_arn(), request={"encryptionContext": context})


# Encryption contexts of every shape: the scanner reads the plain ones into pairs itself
# (ScannedContexts) and leaves the rest to Python, and both must say what the general path says.
PLAIN_CONTEXTS = [
    {"aws:s3:arn": "arn:aws:s3:::bucket/object"},
    {"tenant": "t-1", "purpose": "export", "": ""},  # an empty key and value are a pair too
    {"b": "2", "a": "1"},  # the record's order, not sorted
    {"bidi": "evil\u202etxt", "wide": "\u00e9t\u00e9 \u4e2d \U0001f600"},  # non-ASCII, written as it is
    {"aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "aws:s3:arn": "arn:aws:s3:::logs/x"},
    {f"k{i}": f"v{i % 3}" for i in range(64)},  # as many pairs as the scanner reads
    {},
]
OTHER_CONTEXTS = [
    {"ctl": "a\u0000b\u001b[31m"},  # control characters: escaped in JSON, read by Python
    {"quote": 'say "hi" \\ there'},  # escapes
    {"n": 2, "t": True, "x": None},  # not strings
    {"nested": {"a": "b"}, "list": ["x"]},
    {f"k{i}": "v" for i in range(65)},  # over the scanner's limit
    "not an object",
    ["a", "b"],
    7,
]


def _contexts_file(contexts, spaced: bool = False) -> bytes:
    records = [_context(c) for c in contexts]
    return json.dumps({"Records": records}, indent=1 if spaced else None, ensure_ascii=False).encode()


@scanner
@pytest.mark.parametrize("spaced", [False, True], ids=["compact", "spaced"])
def test_the_scanner_reads_plain_contexts_into_pairs_as_python_does(tmp_path, monkeypatch, spaced):
    text = _contexts_file(PLAIN_CONTEXTS + OTHER_CONTEXTS + PLAIN_CONTEXTS, spaced)
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert said["ctx"][3] == [("", "bidi", "evil\u202etxt"), ("", "wide", "\u00e9t\u00e9 \u4e2d \U0001f600")]
    assert said["ctx"][7] == [("", "ctl", "a\u0000b\u001b[31m")]  # stored literally; shown made visible
    scanned = decode._scan_columns(text)
    columns, contexts = scanned.columns, scanned.contexts
    owns = columns["encryptionContext"][1]
    read = {owns[code + 1]: int(count) for code, count in enumerate(contexts.counts)}
    for context in PLAIN_CONTEXTS[:-1]:
        raw = json.dumps(context, indent=1 if spaced else None, ensure_ascii=False).encode()
        if spaced:  # indented inside a record: match by the decoded text instead
            raw = next(r for r in read if r is not None and json.loads(r) == context)
        assert read[raw] == len(context), context
    for context in OTHER_CONTEXTS:
        raws = [r for r in read if r is not None and json.loads(r) == context]
        assert raws and all(read[r] == NOT_PLAIN for r in raws), context


@scanner
def test_a_key_twice_in_a_context_is_left_to_python(tmp_path, monkeypatch):
    """JSON allows a key twice; which value wins is the decoder's to say, so the scanner does not."""
    record = json.dumps(_context({"a": "1", "b": "2"}), separators=(",", ":")).encode()
    twice = record.replace(b'{"a":"1","b":"2"}', b'{"a":"1","b":"2","a":"3"}')
    text = b'{"Records":[' + twice + b"," + record + b"]}"
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert said["ctx"][1] == [("", "a", "1"), ("", "b", "2")]
    counts = decode._scan_columns(text)[3].counts.tolist()
    assert counts == [NOT_PLAIN, 2]


@scanner
def test_a_thousand_mutated_context_files_read_the_same_either_way(tmp_path, monkeypatch):
    """The cheap fuzzer again, on a file of contexts of every shape."""
    rng = random.Random(20261201)
    base = _contexts_file(PLAIN_CONTEXTS[:5] + OTHER_CONTEXTS[:4])
    starts = [i for i in range(len(base)) if base.startswith(b'"encryptionContext"', i)]

    def in_a_context(text: bytearray) -> int:  # inside or just after a context
        return min(rng.choice(starts) + rng.randrange(20, 120), len(text) - 1)

    path = tmp_path / "log.json"
    for _ in range(1000):
        write(path, mutated(rng, base, 3, in_a_context))
        assert_same(path, monkeypatch)


@scanner
def test_resources_in_another_key_order_are_one_value(tmp_path, monkeypatch):
    """A re-serialised trail writes each resources entry's keys in its own order: those are
    the same resources (one code, one combination to resolve), and read as before."""
    resource = {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": key_arn(KEY1)}
    orders = [dict(reversed(list(resource.items()))), resource, dict(sorted(resource.items()))]
    other = {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": key_arn(KEY2)}
    records = [kms("Decrypt", key_arn(KEY1), resources=[order]) for order in orders]
    records.append(kms("Decrypt", key_arn(KEY2), resources=[other]))
    data = delivered(records)
    scanned = decode._scan_columns(data)
    assert scanned is not None
    codes, values = scanned[2]["resources"]
    assert len(set(codes[:3].tolist())) == 1 and codes[3] != codes[0]
    assert values[codes[0]][0].ARN == key_arn(KEY1) and values[codes[3]][0].ARN == key_arn(KEY2)
    assert_same(write(tmp_path / "log.json", data), monkeypatch)


# eventTime and eventID, which the scanner gives per record (plain shapes) or leaves to Python:
# every shape must read as the general path reads it
ODD_TIMES = [
    "2026-11-20T10:00:00Z",  # the plain shape, given by the scanner
    "1969-12-31T23:59:59Z",  # before the epoch
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2024-02-29T12:00:00Z",  # a leap day
    "2000-02-29T12:00:00Z",
    "2100-02-29T12:00:00Z",  # not one: centuries leap every 400 years
    "2026-02-29T12:00:00Z",
    "2026-04-31T12:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2026-13-10T00:00:00Z",
    "2026-11-00T00:00:00Z",
    "2026-11-20T24:00:00Z",
    "2026-11-20T23:60:00Z",
    "2026-11-20T23:59:60Z",  # a leap second
    "2026-11-20T10:00:00.123Z",  # fractional seconds
    "2026-11-20T10:00:00+02:00",  # an offset
    "2026-11-20T10:00:00-0130",
    "2026-11-20 10:00:00Z",
    "2026-11-20t10:00:00z",
    "2026-11-20T 1:00:00Z",  # int(" 1") is 1 to Python: the scanner leaves it there
    "2026-11-20T+1:00:00Z",
    "2026-11-20T1-:00:00Z",
    "2026-1l-20T10:00:00Z",
    " 2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00Z ",
    "\uff12\uff10\uff12\uff16-11-20T10:00:00Z",  # full-width digits
    "2026-11-20",
    "",
    None,
    ...,
]
ODD_IDS = [
    "0a1b2c3d-0000-4000-8000-00000000000a",
    "0A1B2C3D-0000-4000-8000-00000000000B",  # upper case
    "0a1b2c3d-0000-4000-8000-00000000000a",  # the same id twice
    "short",
    "sp ~!@#$%^&*()_+{}|:<>?/.,;'[]=-`",
    "x" * 36,
    "x" * 37,  # longer than the column
    "a" * 500,
    "nul\u0000inside",
    "del\u007f",
    "\u00e9t\u00e9",  # not ASCII
    'quote"back\\slash',
    "",
    None,
    ...,
]


def _with(time=..., event_id=...) -> dict:
    record = kms("Decrypt", key_arn())
    for name, value in (("eventTime", time), ("eventID", event_id)):
        if value is ...:
            record.pop(name, None)
        else:
            record[name] = value
    return record


@scanner
@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "utf8"])
def test_times_and_ids_of_every_shape_read_as_the_general_path_reads_them(tmp_path, monkeypatch, ascii_only):
    records = [_with(time=t, event_id=f"id-{i}") for i, t in enumerate(ODD_TIMES)]
    records += [_with(time="2026-11-20T10:00:00Z", event_id=e) for e in ODD_IDS]
    text = json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=ascii_only).encode()
    # escaped spellings of plain values: the scanner leaves them to Python
    text = text.replace(b'"id-0"', b'"id-\\u0030"').replace(b'"short"', b'"s\\u0068ort"')
    text = text.replace(b'"1969-12-31T23:59:59Z"', b'"1969-12-31T23:59:59\\u005a"')
    said = assert_same(write(tmp_path / "log.json", text), monkeypatch)
    assert said["time"][0] == 1_795_168_800 and said["time"][4] == 1_709_208_000
    assert said["time"][1] == -1 and said["time"][2] == -62_135_596_800 and said["time"][3] == 253_402_300_799
    # the worker packs ids: any that is not a UUID is kept whole, the column's own overflow
    # (37 and 500 characters, a NUL, not ASCII) among them
    kept = said["overflow"].values()
    assert {"x" * 37, "a" * 500, "nul\u0000inside", "\u00e9t\u00e9", "short", "id-1"} <= set(kept)
    assert not {"0a1b2c3d-0000-4000-8000-00000000000a", "0A1B2C3D-0000-4000-8000-00000000000B"} & set(kept)
    scanned = decode._scan_columns(text)
    assert scanned is not None
    times = scanned.columns["eventTime"][0].tolist()
    ids = scanned.columns["eventID"][0].tolist()
    given_times = [t for t, code in zip(ODD_TIMES, times, strict=False) if code == 0]
    assert given_times == [
        "2026-11-20T10:00:00Z",  # not 1969, escaped
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2024-02-29T12:00:00Z",
        "2000-02-29T12:00:00Z",
        None,
        ...,
    ]
    if ascii_only:  # json.dumps escapes DEL there
        assert ids[len(ODD_TIMES) :] == [0, 0, 0, 2, 0, 0, 3, 4, 5, 6, 7, 8, 0, 0, 0]  # 1: "id-0", escaped
    else:
        assert ids[len(ODD_TIMES) :] == [0, 0, 0, 2, 0, 0, 3, 4, 5, 0, 6, 7, 0, 0, 0]
        assert scanned.ids[len(ODD_TIMES) + 9] == b"del\x7f"


@scanner
def test_a_time_or_id_of_another_type_sends_the_file_the_general_way(tmp_path, monkeypatch):
    for odd in (_with(time=7), _with(event_id=7), _with(time=["2026-11-20T10:00:00Z"]), _with(event_id={"a": 1})):
        text = delivered([_with(time="2026-11-20T10:00:00Z", event_id="x"), odd])
        assert decode._scan_columns(text) is None
        assert_same(write(tmp_path / "log.json", text), monkeypatch)


def _freeze_counts(path: str) -> tuple[int, int, int]:
    """In a worker process: objects frozen before and after load_many, and the batch's events."""
    import gc

    before = gc.get_freeze_count()
    batch = decode.load_many([sources.SourceFile(path, path)])
    return before, gc.get_freeze_count(), batch.n


def test_a_worker_process_leaves_its_batch_out_of_the_collectors_sight(tmp_path):
    """A worker's batch is pickled back and dropped: the collection the paused collector owes
    would walk all of it to find nothing. In a worker the batch is frozen instead; in the main
    process (which merges, and whose other threads may make cycles) nothing is."""
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    path = str(write(tmp_path / "log.json", delivered(SAMPLE)))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        before, after, events = pool.submit(_freeze_counts, path).result()
    assert events == len(SAMPLE) - 2 and after > before
    here = gc.get_freeze_count()
    assert decode.load_many([sources.SourceFile(path, path)]).n == len(SAMPLE) - 2
    assert gc.get_freeze_count() == here and gc.isenabled()


# calls that change something keep [requestParameters, responseElements] as written: the scanner
# gives requestParameters' span, and the text must be msgspec's Raw, byte for byte
PARAMETERS = [
    {"requestParameters": {"keyId": "k", "description": "d"}, "responseElements": {"keyId": "k"}},
    {"requestParameters": {"keyId": "k"}, "responseElements": None},
    {"requestParameters": None, "responseElements": {"x": [1, {"y": None}]}},
    {"requestParameters": None, "responseElements": None},
    {"responseElements": "text"},
    {},
    {"requestParameters": {}, "responseElements": []},
    {"requestParameters": {"nested": {"deep": [{"a": "\u00e9\n"}]}}, "responseElements": 7},
]


@scanner
@pytest.mark.parametrize("indent", [None, 1], ids=["compact", "indented"])
def test_the_parameters_of_changes_are_the_general_paths_byte_for_byte(tmp_path, monkeypatch, indent):
    records = []
    for fields in PARAMETERS:
        record = kms("UpdateKeyDescription", key_arn())
        record.pop("requestParameters", None)
        record.pop("responseElements", None)
        records.append({**record, **fields})
    text = json.dumps({"Records": records}, indent=indent).encode()
    # requestParameters twice: the last one is the record's, as msgspec reads it
    text = text.replace(b'"requestParameters": {}', b'"requestParameters": {"a": 1}, "requestParameters": {}', 1)
    text = text.replace(b'"requestParameters":{}', b'"requestParameters":{"a":1},"requestParameters":{}', 1)
    path = write(tmp_path / "log.json", text)
    scanned = load_file(str(path), "file")[0].parameters
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_scan", None)
        general = load_file(str(path), "file")[0].parameters
    assert scanned == general
    assert len(general) == len(PARAMETERS) - 2  # two have neither
    assert decode._scan_columns(text) is not None


TRAIL_CONTEXT = {"aws:cloudtrail:arn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "aws:s3:arn": "arn:s3"}
# CreateGrant's constraints: the scanner reads the plain ones into labelled pairs, subset first
GRANTS = [
    {"encryptionContextSubset": {"aws:ebs:id": "vol-1"}},
    {"encryptionContextEquals": {"a": "1", "b": "2"}},
    {"encryptionContextEquals": {"e": "1"}, "encryptionContextSubset": {"s": "2"}},  # equals written first
    {"encryptionContextSubset": {}},
    {},
    {"encryptionContextSubset": None, "encryptionContextEquals": {"x": ""}},
    {"encryptionContextSubset": "not an object", "other": [1, {"encryptionContextEquals": {"no": "t"}}]},
    {"encryptionContextSubset": {"n": 2}},  # not a string: left to Python
    {"encryptionContextSubset": {"q": 'say "hi"'}},  # an escape
    {"encryptionContextSubset": {"bidi": "evil\u202etxt", "wide": "\u00e9t\u00e9 \U0001f600"}},
    {"encryptionContextSubset": {"": ""}},
    {"encryptionContextSubset": TRAIL_CONTEXT},
    {"encryptionContextSubset": {"aws:cloudtrail:arn": ""}, "encryptionContextEquals": TRAIL_CONTEXT},
    "not an object",
    [{"encryptionContextSubset": {"a": "b"}}],
]


def _grant(constraints, read_only: bool = False, **request) -> dict:
    return kms("CreateGrant", key_arn(), request={"constraints": constraints, **request}, read_only=read_only)


@scanner
@pytest.mark.parametrize("indent", [None, 1], ids=["compact", "indented"])
def test_the_scanner_reads_grant_constraints_as_python_does(tmp_path, monkeypatch, indent):
    records = [_grant(g) for g in GRANTS] + [_grant(g) for g in GRANTS[:3]]  # again: known ones
    records.append(_grant(GRANTS[0], encryptionContext={"own": "too"}))  # with its own: Python's
    records.append(kms("ReEncrypt", key_arn(), request={"sourceEncryptionContext": {"a": "1"}}))
    text = json.dumps({"Records": records}, indent=indent, ensure_ascii=False).encode()
    # encryptionContextSubset twice: the last one is the record's, as the decoder reads it (Python's)
    twice = text.replace(
        b'"encryptionContextSubset"', b'"encryptionContextSubset": {"first": "x"}, "encryptionContextSubset"', 1
    )
    for data in (text, twice):
        said = assert_same(write(tmp_path / "log.json", data), monkeypatch)
        assert said["ctx"][2] == [("grant constraint (subset)", "s", "2"), ("grant constraint (equals)", "e", "1")]
        assert said["trail"][11] and said["trail"][12] and said["log_files"]
    scanned = decode._scan_columns(text)
    grants = scanned.contexts.grants.tolist()
    assert [g[0] == NOT_PLAIN for g in grants] == [False] * 7 + [True, True, False, False, False, False, True, True]
    assert grants[2] == [1, 1] and grants[4] == [0, 0] and grants[6] == [0, 0]


@scanner
def test_a_thousand_mutated_grant_files_read_the_same_either_way(tmp_path, monkeypatch):
    rng = random.Random(20261202)
    base = delivered([_grant(g, read_only=True) for g in GRANTS[:7]])  # no parameters: they may not be UTF-8
    starts = [i for i in range(len(base)) if base.startswith(b'"constraints"', i)]
    path = tmp_path / "log.json"
    for _ in range(1000):
        write(path, mutated(rng, base, 3, lambda text: min(rng.choice(starts) + rng.randrange(14, 90), len(text) - 1)))
        assert_same(path, monkeypatch)


# What may stand in a string, and where the scanner's wide steps (16 and 32 bytes) could miss
# it: a quote or a backslash escape, UTF-8 of every length, and what is not allowed.
STRING_PARTS = [b'\\"', b"\\\\", b"\\u00e9", b"\\n", "\u00e9".encode(), "\u20ac".encode(), "\U0001f600".encode()]
NOT_IN_A_STRING = [b"\x01", b"\x1f", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\\x"]
AFTER = [0, 1, 2, 7, 8, 14, 15, 16, 17, 30, 31, 32, 33, 63, 64, 65, 100]


def _strings(parts: list[bytes]) -> list[bytes]:
    """Strings (without quotes) with each part after 0 to 69 plain bytes and before each of AFTER."""
    return [b"a" * before + part + b"b" * after for part in parts for before in range(70) for after in AFTER]


@scanner
def test_a_special_byte_at_every_place_in_a_string_is_read_exactly():
    """A string's end, escapes and UTF-8 at every distance from its start (so at every place in
    the scanner's 16- and 32-byte steps) and from its end, kept, skipped and inside an object
    that is skipped: each record's text is its own, and the file is read, not refused."""
    strings = [*_strings(STRING_PARTS), *(b"c" * n for n in range(130))]
    records = [b'{"userAgent":"%s","skipped":"%s","o":{"in":["%s"]}}' % (s, s, s) for s in strings]
    text = b'{"Records":[' + b",".join(records) + b"]}"
    found = decode._scan.scan(text, [(b"userAgent", -1)])
    assert found is not None
    count, _, columns, *_ = found
    codes, values = columns[0]
    codes = memoryview(codes).cast("I").tolist()
    assert count == len(strings)
    assert [values[code - 1] for code in codes] == [b'"%s"' % s for s in strings]


@scanner
def test_what_may_not_stand_in_a_string_is_refused_wherever_it_is():
    scan = decode._scan.scan
    for string in _strings(NOT_IN_A_STRING):
        for shape in (b'{"userAgent":"%s"}', b'{"skipped":"%s"}', b'{"o":{"in":["%s"]}}', b'{"%s":1}'):
            assert scan(b'{"Records":[' + shape % string + b"]}", [(b"userAgent", -1)]) is None, (shape, string)


@scanner
def test_a_file_cut_short_anywhere_in_its_last_string_is_refused():
    scan = decode._scan.scan
    for string in (b"x" * 80, b"y" * 40 + b'\\"' + "\u20ac".encode() * 10 + b"z" * 20):
        whole = b'{"Records":[{"userAgent":"' + string + b'"}]}'
        assert scan(whole, [(b"userAgent", -1)]) is not None
        for cut in range(len(whole) - 1):
            assert scan(whole[:cut], [(b"userAgent", -1)]) is None, cut


@scanner
def test_strings_with_a_special_byte_at_every_place_read_as_the_general_path_does(tmp_path, monkeypatch):
    strings = [s.decode() for s in _strings([b"\\u00e9", b'\\"', "\u20ac".encode()])][::7]
    records = [kms("Decrypt", key_arn(), agent=json.loads(f'"{s}"')) for s in strings]
    said = assert_same(write(tmp_path / "log.json", delivered(records)), monkeypatch)
    assert said["sources"][0][:2] == ("cloudtrail", len(records))


# ---------------------------------------------------------------------------------------------
# Re-serialised trails (issue 17): the same records written with json.dumps's spaces, with their
# keys sorted, or with each record's keys in an order of its own, are the same index, and the
# same work: the scanner reads them all, and hands Python as many distinct values of each
# field as the compact file does (a value known by its text in key order would be new on every
# record whose order differs: more to decode and resolve, and more kept).

SERIALISATIONS = ["spaced", "sorted", "indented", "shuffled", "shuffled-spaced"]
# Encryption contexts and grant constraints are read per distinct raw text: the same context in
# another key order is another text for the scanner to hand over (cheap: its pairs are read in C),
# though one context set (contexts.identity; test_a_context_in_another_key_order_is_the_same_context).
KNOWN_ORDER_LEAKS = {"encryptionContext", "constraints", "sourceEncryptionContext", "destinationEncryptionContext"}


def _reserialised(records: list[dict], how: str) -> bytes:
    rng = random.Random(17)
    if how == "spaced":
        return json.dumps({"Records": records}).encode()
    if how == "sorted":
        return json.dumps({"Records": records}, sort_keys=True, separators=(",", ":")).encode()
    if how == "indented":
        return json.dumps({"Records": records}, indent="\t", ensure_ascii=False).encode()
    shuffled = {"Records": [synth.shuffled(item, rng) for item in records]}
    if how == "shuffled":
        return json.dumps(shuffled, separators=(",", ":")).encode()
    assert how == "shuffled-spaced"
    return json.dumps(shuffled).encode()


def _repeating() -> list[dict]:
    """What a busy trail repeats from record to record: sessions, resources, contexts of several
    keys, grants, changes with their parameters."""
    contexts = [
        {"tenant": "t-1", "purpose": "vault", "app": "pay"},
        {"aws:s3:arn": "arn:aws:s3:::b/o"},
        {"a": "1", "b": "2"},
    ]
    found = []
    for i in range(48):
        key = key_arn((KEY1, KEY2)[i % 2])
        found.append(
            kms(
                ("Decrypt", "GenerateDataKey", "Encrypt")[i % 3],
                key,
                request={
                    "keyId": key,
                    "encryptionContext": contexts[i % 3],
                    "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                },
                identity=assumed_role(("Worker", "Batch")[i % 2], f"s-{i % 4}"),
                resources=[key_resource(key), key_resource(alias_arn("app"))],
            )
        )
        if i % 6 == 0:
            found.append(
                kms(
                    "CreateGrant",
                    key,
                    request={"keyId": key, "constraints": {"encryptionContextSubset": {"dept": "it", "team": "a"}}},
                )
            )
    return found


def _index_said(path: Path) -> dict:
    """What the index made of a file says: every event as exported (where it came from aside),
    how many distinct values each vocabulary holds, the record paths' store."""
    index = load(path)
    writer = EventWriter(index, [])
    events = []
    for row in rows(index):
        event = writer.record(row)
        event.pop("origin")
        events.append(event)
    return {
        "events": events,
        "distinct": {name: len(vocab) for name, vocab in index.vocab.items()},
        "parameters": {row: json.loads(raw) for row, raw in index.parameters.items()},
    }


def _work(data: bytes) -> dict[str, int]:
    """How many distinct values of each field the scanner hands Python (those rows use)."""
    scanned = decode._scan_columns(data)
    assert scanned is not None, "a re-serialised file must take the scanner"
    return {name: len(set(codes.tolist()) - {0}) for name, (codes, _values) in scanned.columns.items()}


def _inputs() -> list[tuple[str, list[dict]]]:
    demo = []
    for path in sorted(DEMO.rglob("*.json.gz"))[:20]:
        demo.extend(json.loads(gzip.decompress(path.read_bytes()))["Records"])
    assert demo, f"no delivered log files in {DEMO}"
    found = [("sample", SAMPLE), ("repeating", _repeating()), ("demo", demo)]
    if AWS_DOCS.is_dir():
        docs = []
        for path in sorted(AWS_DOCS.rglob("*.json")):
            value = json.loads(path.read_text())
            items = (
                value if isinstance(value, list) else value.get("Records", [value]) if isinstance(value, dict) else []
            )
            docs.extend(item for item in items if isinstance(item, dict) and "eventSource" in item)
        found.append(("aws-docs", docs))
    if REAL.is_dir():
        found.append(("real", _real_records()))
    return found


@scanner
@pytest.mark.parametrize("how", SERIALISATIONS)
def test_a_re_serialised_trail_is_the_same_index_and_the_same_work(tmp_path, how):
    """Spaces, sorted keys and each record's keys in its own order change nothing kmstui keeps
    or shows, nor how many distinct values it decodes and resolves (the outside corpora are
    used where they are present: tests/records.py says where)."""
    for name, records in _inputs():
        compact, other = delivered(records), _reserialised(records, how)
        expected = _index_said(write(tmp_path / name / "compact" / "log.json", compact))
        said = _index_said(write(tmp_path / name / how / "log.json", other))
        assert said["events"] == expected["events"], name
        assert said["distinct"] == expected["distinct"], name
        assert said["parameters"] == expected["parameters"], name
        work, expected_work = _work(other), _work(compact)
        for field in KNOWN_ORDER_LEAKS:
            work.pop(field), expected_work.pop(field)
        assert work == expected_work, name


def context_sets(paths: list[Path]) -> tuple[list[int], list[frozenset]]:
    """A batch of ``paths`` as its contexts say: each row's context code, and each context set's
    labelled pairs (whatever their order)."""
    batch = decode.load_many([sources.SourceFile(str(p), str(p)) for p in paths])
    part = batch.contexts
    labels, keys, values = (np.asarray(codes).tolist() for codes in (part.label, part.key, part.value))
    found, at = [], 0
    for count in part.counts.tolist():
        found.append(
            frozenset(
                (part.labels[labels[i]], part.keys[keys[i]], part.values[values[i]]) for i in range(at, at + count)
            )
        )
        at += count
    return batch.columns["ctx"].tolist(), found


@pytest.mark.parametrize("compiled", [True, False], ids=["c", "python"])
@pytest.mark.parametrize("field", ["encryptionContext", "constraints"])
def test_a_context_in_another_key_order_is_the_same_context(tmp_path, monkeypatch, field, compiled):
    """A context set (a grant's constraints likewise) is its pairs: the same records written
    with spaces, sorted, or each with its keys in its own order (several orders of one context
    in one file) give the same sets and the same code on every row, in a file and in a batch of
    files; on the scanner's C path and on the general path."""
    if not compiled:
        monkeypatch.setattr("kmstui.core.contexts._context_codes", None)
    records = [r for r in _repeating() if field in r["requestParameters"]]
    compact = write(tmp_path / "compact" / "log.json", delivered(records))
    codes, sets = context_sets([compact])
    assert len(sets) == (3 if field == "encryptionContext" else 1)
    for how in ("shuffled", "shuffled-spaced", "spaced", "sorted"):
        other = write(tmp_path / how / "log.json", _reserialised(records, how))
        assert context_sets([other]) == (codes, sets), how
        assert context_sets([compact, other]) == (codes * 2, sets), how
        assert context_sets([other, compact]) == (codes * 2, sets), how
