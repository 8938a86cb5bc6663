"""The keys and aliases of a batch's files: each combination of the fields that name them is
resolved once a batch (decode.py keeps what it named), and a batch says of each file what
that file alone says, on the scanner's path and on the general one."""

from __future__ import annotations

import json

import pytest

from kmstui.core import decode
from kmstui.core.decode import load_many
from kmstui.core.sources import SourceFile

from records import KEY1, KEY2, KEY3, alias_arn, key_arn, key_resource, kms, write


def delivered(records: list) -> bytes:
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


def calls(time: str, other: str, region: str, alias: str) -> list[dict]:
    """Calls that name keys and aliases every way a record can: the same in every file, and
    some that differ from file to file: a key named ``other``, a bare key id in ``region``,
    an alias deleted by name (``alias``) with the same resources."""
    return [
        kms("Decrypt", KEY2, region=region, time=time),
        kms(
            "DeleteAlias",
            None,
            request={"aliasName": alias},
            resources=[key_resource(key_arn(KEY3))],
            read_only=False,
            time=time,
        ),
        kms("Decrypt", key_arn(), time=time),
        kms(
            "Encrypt",
            None,
            request={"keyId": "alias/app"},
            resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY2))],
            time=time,
        ),
        kms("Encrypt", None, request={"keyId": "alias/app"}, error="AccessDenied", time=time),
        kms(
            "ReEncrypt",
            None,
            request={"sourceKeyId": key_arn(KEY1), "destinationKeyId": key_arn(KEY2)},
            resources=[key_resource(key_arn(KEY1)), key_resource(key_arn(KEY2)), key_resource(key_arn(KEY3))],
            time=time,
        ),
        kms(
            "UpdateAlias",
            None,
            request={"aliasName": "alias/app", "targetKeyId": KEY3},
            resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY2)), key_resource(key_arn(KEY3))],
            read_only=False,
            time=time,
        ),
        kms("Decrypt", None, request={"keyId": {"odd": "an object where an id belongs"}}, time=time),
        kms("Decrypt", None, request={"keyId": 12345}, time=time),
        kms("Decrypt", other, time=time),
    ]


def named(batch) -> list:
    """Each row's keys and alias as their ARNs, and the alias bindings by value."""
    vocab, columns = batch.vocab, batch.columns
    rows = [
        (
            vocab["key"][k0],
            vocab["key"][k1],
            vocab["alias"][a],
            [vocab["key"][k] for k in batch.extra_keys.get(row, ())],
        )
        for row, (k0, k1, a) in enumerate(zip(columns["key0"], columns["key1"], columns["alias"], strict=True))
    ]
    bindings = sorted(
        (
            (vocab["alias"][b.alias], vocab["key"][b.key], b.kind, b.when, first, last)
            for b, (first, last) in batch.alias_bindings
        ),
        key=repr,
    )
    return [rows, bindings]


@pytest.fixture(params=["scanner", "general"])
def path(request, monkeypatch):
    if request.param == "general":
        monkeypatch.setattr(decode, "_scan", None)
    elif decode._scan is None:
        pytest.skip("the scanner is not built (no C compiler)")
    return request.param


def files(tmp_path) -> list[SourceFile]:
    made = []
    differences = [
        (key_arn("aaaa"), "us-east-1", "alias/app"),
        ("alias/other", "eu-west-1", "alias/app"),
        (key_arn("aaaa"), "us-east-1", "alias/old"),
        ("bbbb", "eu-west-1", "alias/app"),
    ]
    for day, (other, region, alias) in enumerate(differences, 1):
        name = f"log{day}.json"
        write(tmp_path / name, delivered(calls(f"2024-05-0{day}T12:00:00Z", other, region, alias)))
        made.append(SourceFile(str(tmp_path / name), name))
    return made


def test_a_batch_names_the_keys_each_of_its_files_names_alone(tmp_path, path):
    sources = files(tmp_path)
    together = named(load_many(sources))
    rows, spans = [], {}
    for source in sources:
        alone_rows, alone_bindings = named(load_many([source]))
        rows += alone_rows
        for alias, key, kind, when, first, last in alone_bindings:
            earlier = spans.get((alias, key, kind, when), (first, last))
            spans[alias, key, kind, when] = (min(first, earlier[0]), max(last, earlier[1]))
    assert together[0] == rows
    assert together[1] == sorted(((*binding, *span) for binding, span in spans.items()), key=repr)
    assert any(extra for *_, extra in rows) and any(kind == "observed" for _, _, kind, *_ in together[1])


def test_a_combination_met_again_in_a_batch_is_resolved_once(tmp_path, path, monkeypatch):
    resolved = []
    original = decode._references

    def counting(*args):
        resolved.append(args[:5])
        return original(*args)

    monkeypatch.setattr(decode, "_references", counting)
    sources = files(tmp_path)
    load_many(sources[:1])
    once = len(resolved)
    resolved.clear()
    load_many(sources)
    # the later files add calls of their own: the second two (another key, another region),
    # the third one (another alias: its key repeats the first file's), the fourth one (another
    # key; its region is the second file's); and the object where an id belongs cannot be
    # remembered: it is resolved in every file
    assert len(resolved) == once + 2 + 1 + 1 + 3
