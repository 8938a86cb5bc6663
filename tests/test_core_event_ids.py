"""Event ids are kept as 16 bytes when they are UUIDs and whole otherwise: every id reads back
exactly as the record wrote it, and the filters find it as they find its text."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from kmstui.core.export import EventWriter, json_line
from kmstui.core.index import EventIds
from tests.records import REPO, gz, ids, kms, load, load_records, rows, write

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import actiontrail_synth as synth

ODD_IDS = [
    "0f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6b",  # the usual: a lowercase UUID
    "0F3C9A1E-5B7D-4E2F-9A8B-1C2D3E4F5A6C",  # upper case: kept as written
    "00000000-0000-0000-0000-000000000000",  # the nil UUID (16 zero bytes mean "no id")
    "0f3c9a1e5b7d4e2f9a8b1c2d3e4f5a6b0000",  # 36 hex digits, no dashes
    "0f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6",  # one digit short
    "0f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6bb",  # one digit long
    "g f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6",  # not hex
    "x",
    "\x1b[31mred\u202e-\u200b",  # hostile text
    "a" * 5000,  # a huge value
]


def test_a_column_of_ids_reads_back_every_id_and_finds_as_text_does():
    overflow: dict[int, str] = {}
    column = EventIds(overflow)
    plain = [*ODD_IDS, "", "11111111-2222-4333-8444-555555555555"]
    texts = [i if len(i) <= 36 and i.isascii() else "" for i in plain]
    column.extend(np.array(texts[:4], dtype="S36"))  # in two batches: rows numbered across them
    column.extend(np.array(texts[4:], dtype="S36"))
    for row, event_id in enumerate(plain):  # the loader keeps ids that do not fit in the index's map
        if event_id and not texts[row]:
            overflow[row] = event_id
    assert [column.get(row) for row in range(len(plain))] == [i or None for i in plain]
    assert column.data.itemsize == 16
    # UUIDs in either case are kept as 16 bytes; only the odd ones take the map
    assert set(overflow) == {row for row, i in enumerate(plain) if i and row not in (0, 1, len(plain) - 1)}
    needles = ["0f3c9a1e", "5a6b", "5A6C", "-", "0000-0000", "red", "\u200b", "aaaa", "x", "z", "e-5b7d-4"]
    for needle in needles + plain[:8]:
        contains = [bool(i) and needle.lower() in i.lower() for i in plain]
        equals = [bool(i) and needle.lower() == i.lower() for i in plain]
        assert column.matching(needle, False, len(plain)).tolist() == contains, needle
        assert column.matching(needle, True, len(plain)).tolist() == equals, needle


def test_ids_of_every_shape_load_read_back_and_filter(tmp_path):
    records = [kms("Decrypt", eventID=event_id) for event_id in ODD_IDS]
    records.append(kms("Encrypt", eventID=""))
    index = load_records(tmp_path, records)
    assert ids(index) == {*ODD_IDS, None}
    exporter = EventWriter(index, [])
    exported = {json.loads(json_line(exporter.record(row)))["event_id"] for row in rows(index)}
    assert exported == {*ODD_IDS, None}
    for event_id in ODD_IDS:
        expected = {i for i in ODD_IDS if i.lower() == event_id.lower()}
        assert ids(index, f'id:="{event_id}"') == expected, event_id
    for needle in ("0f3c9a1e-5b7d", "5A6B", "aaaaaaaaaa", "\u200b", "-"):
        assert ids(index, f'id:"{needle}"') == {i for i in ODD_IDS if needle.lower() in i.lower()}, needle


@pytest.mark.parametrize("event_id", ["0f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6b", "Not-A-UUID"])
def test_the_same_id_twice_is_folded_whatever_its_shape(tmp_path, event_id):
    record = kms("Decrypt", eventID=event_id)
    index = load_records(tmp_path, [record, record])
    assert index.report.duplicates == 1
    assert ids(index) == {event_id}


def test_a_narrow_column_widens_itself_when_a_value_does_not_fit():
    from kmstui.core.index import _Column

    column = _Column(np.uint16)
    column.extend(np.array([1, 65_535], dtype=np.uint32))
    assert column.data.dtype == np.uint16
    column.extend(np.array([65_536], dtype=np.uint32))  # a 65,536th address, source or key
    assert column.data.dtype == np.uint32
    assert column.data[: column.size].tolist() == [1, 65_535, 65_536]
    written = _Column(np.uint16)
    written.extend(np.zeros(3, np.uint16))
    written.set(1, 70_000)  # a record measured later, longer than 64 KiB
    assert written.data[: written.size].tolist() == [0, 70_000, 0]


CASES = [
    "0f3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6b",  # CloudTrail's: lower case
    "0F3C9A1E-5B7D-4E2F-9A8B-1C2D3E4F5A6B",  # ActionTrail's: the same UUID in upper case
    "0F3c9a1e-5b7d-4e2f-9a8b-1c2d3e4f5a6b",  # mixed case: kept whole, as written
    "12345678-1234-4234-8234-123456789012",  # digits only: no case to keep
    "ABCDEF00-0000-0000-0000-00000000000G",  # upper case, not hex
    "ABC",  # upper case, not a UUID
]


def test_a_uuid_in_either_case_takes_16_bytes_and_a_flag_and_reads_back_as_written():
    overflow: dict[int, str] = {}
    column = EventIds(overflow)
    column.extend(np.array(CASES, dtype="S36"))
    assert [column.get(row) for row in range(len(CASES))] == CASES
    assert set(overflow) == {2, 4, 5}  # mixed case and the ids that are not UUIDs
    assert column.data.itemsize + column.upper.itemsize == 17
    assert bytes(column.data[0]) == bytes(column.data[1])  # one UUID: the case is the flag's
    for needle in ("0f3c9a1e", "0F3C9A1E", "5A6B", "-5b7D-", "1234", "abc", "00G"):
        contains = [needle.lower() in i.lower() for i in CASES]
        assert column.matching(needle, False, len(CASES)).tolist() == contains, needle
    for needle in CASES:
        equals = [needle.lower() == i.lower() for i in CASES]
        assert column.matching(needle, True, len(CASES)).tolist() == equals, needle


def actiontrail_events(event_ids: list[str]) -> list[dict]:
    """ActionTrail Decrypt calls (the generator's shape), one for each id."""
    week = [e for e in synth.week() if e["serviceName"] == "Kms" and e["eventName"] == "Decrypt"]
    return [{**week[n], "eventId": event_id} for n, event_id in enumerate(event_ids)]


def test_actiontrail_ids_go_to_the_16_byte_column_not_the_map(tmp_path):
    week = [e for e in synth.week() if e["serviceName"] == "Kms"]
    write(tmp_path / "week.json.gz", gz(json.dumps(week).encode()))
    index = load(tmp_path)
    assert len(rows(index)) == len(week)
    assert index.event_id_overflow == {}  # before: every one of them
    assert ids(index) == {e["eventId"] for e in week}
    assert all(e["eventId"].isupper() for e in week)
    some = week[len(week) // 2]["eventId"]
    assert ids(index, f'id:="{some}"') == ids(index, f'id:="{some.lower()}"') == {some}
    assert ids(index, f"id:{some[9:18].lower()}") == {e["eventId"] for e in week if some[9:18] in e["eventId"]}


def test_actiontrail_ids_of_every_shape_read_back_exactly(tmp_path):
    hostile = ["\x1b[31mRED\u202e", "A" * 5000, "ID\x00NUL", "ÉVÉNEMENT"]
    event_ids = [*CASES, *hostile]
    write(tmp_path / "mixed.json.gz", gz(json.dumps(actiontrail_events(event_ids)).encode()))
    index = load(tmp_path)
    assert ids(index) == set(event_ids)
    assert set(index.event_id_overflow.values()) == {CASES[2], *CASES[4:], *hostile}
    exporter = EventWriter(index, [])
    exported = {json.loads(json_line(exporter.record(row)))["event_id"] for row in rows(index)}
    assert exported == set(event_ids)
    for event_id in event_ids:
        assert ids(index, f'id:="{event_id}"') == {i for i in event_ids if i.lower() == event_id.lower()}


def test_duplicate_actiontrail_events_fold_and_cases_stay_apart(tmp_path):
    upper, lower = CASES[1], CASES[0]
    records = actiontrail_events([upper, upper, "NOT-A-UUID", "NOT-A-UUID"])
    records[1] = records[0]  # the same event twice
    records[3] = records[2]
    other = {**records[0], "eventId": lower}  # the same UUID in lower case: another id as written
    write(tmp_path / "twice.json.gz", gz(json.dumps([*records, other]).encode()))
    index = load(tmp_path)
    assert index.report.duplicates == 2
    assert sorted(e.event_id for e in (index.event(r) for r in rows(index))) == sorted([upper, lower, "NOT-A-UUID"])


def test_cloudtrail_ids_in_upper_case_take_the_16_byte_column_too(tmp_path):
    """A trail re-serialised by a tool that upper-cases ids (or an AWS partner's export) is
    kept as compactly as CloudTrail's own lower-case ids, and reads back as written."""
    upper = [f"0F3C9A1E-5B7D-4E2F-9A8B-{n:012X}" for n in range(1, 41)]
    mixed, nul = "0f3c9a1e-5B7D-4e2f-9a8b-1c2d3e4f5a6b", "0f3c9a1e-5b7d\x00"
    records = [kms("Decrypt", eventID=event_id) for event_id in [*upper, mixed, nul]]
    index = load_records(tmp_path, records)
    assert ids(index) == {*upper, mixed, nul}
    assert set(index.event_id_overflow.values()) == {mixed, nul}  # only the odd ones
    assert ids(index, f'id:="{upper[3].lower()}"') == {upper[3]}
