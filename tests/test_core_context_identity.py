"""An encryption context is its pairs, not its text (kmstui/core/contexts.py, ``identity``).

Whatever serialiser wrote a trail (spaces, each record's keys in its own order, escapes where
none were needed), a filter on a context, a group by context and the number of context sets
kept are the same; a key written twice holds its last value; text stays what it was, hostile
or not. On the scanner's C path and on the general path alike."""

from __future__ import annotations

import copy
import json
import random

import pytest
from test_core_scan import context_sets

from benchmarks import synth
from kmstui.core import contexts, group, query
from kmstui.core.export import EventWriter
from kmstui.core.text import clean

from records import KEY1, cloudtrail_file, events, key_arn, kms, load, rows, write

WAYS = [True, False]


@pytest.fixture(params=WAYS, ids=["c", "python"])
def way(request, monkeypatch):
    """Each test twice: with the scanner's C for contexts where it is built, and without it."""
    if not request.param:
        monkeypatch.setattr(contexts, "_context_codes", None)
    return request.param


def _records() -> list[dict]:
    """Contexts of one to four keys, several repeating, a grant, a ReEncrypt."""
    shapes = [
        {"tenant": "t-1", "purpose": "vault", "app": "pay", "zone": "eu"},
        {"aws:s3:arn": "arn:aws:s3:::b/o"},
        {"a": "1", "b": "2"},
        {"b": "1", "a": "2"},  # the same keys, other values: another set
        {"app": "pay", "tenant": "t-2"},
    ]
    found = []
    for i in range(40):
        found.append(
            kms(("Decrypt", "Encrypt")[i % 2], key_arn(KEY1), request={"encryptionContext": shapes[i % len(shapes)]})
        )
    found.append(
        kms(
            "CreateGrant",
            key_arn(KEY1),
            request={"constraints": {"encryptionContextEquals": {"dept": "it", "team": "a", "site": "x"}}},
        )
    )
    found.append(
        kms(
            "ReEncrypt",
            key_arn(KEY1),
            request={
                "sourceEncryptionContext": {"app": "pay", "tenant": "t-2"},
                "destinationEncryptionContext": {"tenant": "t-1", "app": "pay"},
            },
        )
    )
    return found


def _written(records: list[dict], how: str) -> bytes:
    rng = random.Random(5)
    if how == "compact":
        return cloudtrail_file(records)
    if how == "spaced":
        return json.dumps({"Records": records}).encode()
    shuffled = {"Records": [synth.shuffled(item, rng) for item in records]}
    return json.dumps(shuffled, separators=(",", ":") if how == "shuffled" else None).encode()


QUESTIONS = ["ctx:tenant=t-1", "ctx:app=pay", "ctx:a", "ctx:1", "ctx:dept=it", "ctx:aws:s3:arn=b/o", "ctx:zone"]


def _answers(index) -> dict:
    every = query.parse("").rows(index)
    grouped = group.group(index, every, ("ctx",)).rows
    return {
        "sets": len(index.contexts) - 1,
        "filters": {question: sorted(rows(index, question)) for question in QUESTIONS},
        "groups": sorted((row.values, row.events) for row in grouped),
        "events": sorted(
            json.dumps(EventWriter(index, []).record(row)["contexts"], sort_keys=True) for row in every.tolist()
        ),
    }


def test_compact_spaced_and_shuffled_give_the_same_sets_and_answers(tmp_path, way):
    records = _records()
    expected = _answers(load(write(tmp_path / "compact" / "log.json", _written(records, "compact"))))
    assert expected["sets"] == 7  # 5 contexts, the grant's, the ReEncrypt's two groups as one
    for how in ("spaced", "shuffled", "shuffled-spaced"):
        said = _answers(load(write(tmp_path / how / "log.json", _written(records, how))))
        assert said == expected, how


def test_a_context_written_with_escapes_is_the_same_context(tmp_path, way):
    """``\\u0041`` is ``A`` and ``\\/`` is ``/``, in keys and values: the general path reads the
    escaped texts, the scanner the plain ones, and they are one set, shown as the first record
    wrote it; another value is another set."""
    texts = [
        '{"kA":"A/b","z":"1"}',
        '{"z":"1","k\\u0041":"\\u0041\\/b"}',
        '{ "kA" : "A\\/b" , "z" : "\\u0031" }',
        '{"kA":"A/c","z":"1"}',
    ]
    records = []
    for n, text in enumerate(texts):
        record = kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"placeholder": str(n)}})
        records.append(json.dumps(record).replace(f'{{"placeholder": "{n}"}}', text))
    data = ('{"Records":[' + ",".join(records) + "]}").encode()
    json.loads(data)  # still JSON
    path = write(tmp_path / "log.json", data)
    codes, sets = context_sets([path])
    assert codes[0] == codes[1] == codes[2] != codes[3] and len(sets) == 2
    assert sets[0] == {("", "kA", "A/b"), ("", "z", "1")}
    index = load(path)
    shown = [event.contexts for event in events(index, "ctx:ka=a/b")]
    assert len(shown) == 3 and all(context == shown[0] for context in shown)
    assert shown[0][0].pairs == (("kA", "A/b"), ("z", "1"))  # the order of the first record
    assert len(index.contexts) - 1 == 2


def test_a_key_written_twice_holds_its_last_value(tmp_path, way):
    text = '{"a":"1","b":"2","a":"3"}'
    record = kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"placeholder": "0"}})
    twice = json.dumps(record).replace('{"placeholder": "0"}', text)
    once = kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"b": "2", "a": "3"}})
    path = write(tmp_path / "log.json", ('{"Records":[' + twice + "," + json.dumps(once) + "]}").encode())
    codes, sets = context_sets([path])
    assert codes[0] == codes[1] and sets == [{("", "a", "3"), ("", "b", "2")}]


HOSTILE = [
    {"k\u202e": "v"},  # a bidi override in a key
    {"k": "v"},
    {"k": "v\u200b"},  # a zero-width space in a value
    {"k": "v\x1b[31m"},  # a terminal escape
    {"k\x00": "v"},
    {"\u202ek": "v", "k\u202e": "w"},
]


INVISIBLE = "\u202e\u200b\x1b\x00"


def test_hostile_keys_and_values_stay_literal_and_visible(tmp_path, way):
    """Text that differs only by an invisible or control character is another set, and is
    exported and shown as it was, made visible: never folded into the plain-looking one."""
    records = [kms("Decrypt", key_arn(KEY1), request={"encryptionContext": c}) for c in HOSTILE]
    shuffled = [synth.shuffled(copy.deepcopy(r), random.Random(n)) for n, r in enumerate(records)]
    path = write(tmp_path / "log.json", json.dumps({"Records": records + shuffled}).encode())
    index = load(path)
    assert len(index.contexts) - 1 == len(HOSTILE)
    writer = EventWriter(index, [])
    seen = set()
    for row in rows(index):
        event = index.event(row)
        pairs = frozenset(event.contexts[0].pairs)
        assert dict(pairs) in HOSTILE
        seen.add(pairs)
        exported = writer.record(row)["contexts"][0]["context"]
        assert exported == dict(event.contexts[0].pairs)
        for key, value in pairs:
            for text in (key, value):
                shown = clean(text)  # as the detail view writes them
                assert not any(ch in shown for ch in INVISIBLE) and (shown == text) == (text in "kvw")
    assert len(seen) == len(HOSTILE)


def test_a_copy_with_its_context_in_another_order_is_the_same_event(tmp_path, way):
    """The same event delivered twice (an organization trail's copy, a re-serialised file), its
    context keys in another order in the second: one event, not two that share an id."""
    first = kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"tenant": "t-1", "app": "pay", "zone": "eu"}})
    second = copy.deepcopy(first)
    second["requestParameters"]["encryptionContext"] = {"zone": "eu", "app": "pay", "tenant": "t-1"}
    write(tmp_path / "one.json", cloudtrail_file([first]))
    write(tmp_path / "two.json", cloudtrail_file([second]))
    index = load(tmp_path)
    found = events(index)
    assert len(found) == 1 and not found[0].shares_id
    assert index.report.duplicates == 1


def test_a_request_with_only_empty_contexts_holds_none(tmp_path, way):
    """A ReEncrypt whose contexts are empty objects and a CreateGrant whose constraints are
    empty (or not objects) hold no context set: ``ctx:*`` does not find them, and the index
    keeps no set without pairs; a context of a few spaces, `{ }`, holds none either."""
    empty = [
        kms("ReEncrypt", key_arn(KEY1), request={"sourceEncryptionContext": {}, "destinationEncryptionContext": {}}),
        kms("CreateGrant", key_arn(KEY1), request={"constraints": {}}),
        kms("CreateGrant", key_arn(KEY1), request={"constraints": {"encryptionContextSubset": {}}}),
        kms("CreateGrant", key_arn(KEY1), request={"constraints": "none"}),
        kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"placeholder": "0"}}),
    ]
    held = kms("Decrypt", key_arn(KEY1), request={"encryptionContext": {"app": "pay"}})
    texts = [json.dumps(record) for record in empty] + [json.dumps(held)]
    texts[4] = texts[4].replace('{"placeholder": "0"}', "{   }")
    for name, data in (
        ("log.json", '{"Records":[' + ",".join(texts) + "]}"),  # delivered: the scanner's way where built
        ("lines.jsonl", "\n".join(texts) + "\n"),  # JSON lines: the general way
    ):
        index = load(write(tmp_path / name.split(".")[0] / name, data))
        assert len(rows(index)) == 6, name
        assert [event.name for event in events(index, "ctx:*")] == ["Decrypt"], name
        assert len(index.contexts) - 1 == 1, name
