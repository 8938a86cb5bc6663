"""Drilling into a group-by row gives exactly the row's events: for every field group-by
offers, the filter the drill builds counts what the row counts (a "none" row as -FIELD:*, an
account row as owner:=), on the demo and on the public records."""

from __future__ import annotations

import pytest

from kmstui.cli import demo_path
from kmstui.core import fields, group, query

from records import REAL, assumed_role, cloudtrail_file, ids, kms, load, needs_outside_data, write

FIELDS = list(group.DIMENSIONS)


@pytest.fixture(scope="module")
def demo():
    return load(demo_path())


def mismatches(index, fields: tuple[str, ...]) -> list[tuple]:
    every = query.parse("").rows(index)
    out = []
    for row in group.group(index, every, fields).rows:
        terms = group.drill_terms(fields, row)
        count = len(query.parse(" ".join(terms)).rows(index))
        if count != row.events:
            out.append((row.values, row.events, count, terms))
    return out


@pytest.mark.parametrize("field", FIELDS)
def test_every_rows_drill_counts_what_the_row_counts_on_the_demo(demo, field):
    assert mismatches(demo, (field,)) == []


@pytest.mark.parametrize("pair", [("event", f) for f in FIELDS if f != "event"] + [("account", "ctx"), ("key", "ip")])
def test_and_for_two_fields(demo, pair):
    assert mismatches(demo, pair) == []


@needs_outside_data(REAL)
@pytest.mark.parametrize("field", FIELDS)
def test_and_on_the_public_records(field):
    assert mismatches(load(REAL), (field,)) == []


def test_the_none_rows_of_the_demo_are_drilled_into_as_no_value(demo):
    seen = set()
    for field in FIELDS:
        every = query.parse("").rows(demo)
        for row in group.group(demo, every, (field,)).rows:
            if row.values == (None,):
                seen.add(field)
                assert group.drill_terms((field,), row) == [f"-{'owner' if field == 'account' else field}:*"]
    assert {"key", "identity", "ctx"} <= seen


def test_owner_is_the_events_account_and_account_also_the_callers(tmp_path):
    owner, caller = "111122223333", "444455556666"
    own = kms("Decrypt", account=owner, identity=assumed_role("App", "s1", account=owner), event_id="own-call")
    cross = kms("Decrypt", account=owner, identity=assumed_role("Ops", "s2", account=caller), event_id="cross-call")
    index = load(write(tmp_path / "log.json", cloudtrail_file([own, cross])))
    assert ids(index, f"owner:={owner}") == {"own-call", "cross-call"}
    assert ids(index, f"owner:={caller}") == set()
    assert ids(index, f"account:={caller}") == {"cross-call"}  # the caller's account: not what group-by counts
    assert ids(index, "owner:*") == ids(index, "account:*") == {"own-call", "cross-call"}
    assert ids(index, "-owner:*") == ids(index, "-readonly:*") == set()


def test_an_alibaba_assumed_role_is_found_by_its_short_form(demo):
    every = query.parse("").rows(demo)
    shorts = [r.values[0] for r in group.group(demo, every, ("principal",)).rows]
    alibaba = [s for s in shorts if s and s.startswith("assumed-role/") and " (" in s]
    assert alibaba
    for short in alibaba:
        found = query.parse(f"principal:={query.quote(short)}").rows(demo)
        assert len(found) and {demo.event(int(r)).principal.short for r in found} == {short}
    # a pasted AWS assumed-role ARN still searches as the short form it is shown as
    assert fields.principal_needle("arn:aws:sts::111122223333:assumed-role/Admin/j.doe") == "role/Admin (j.doe)"
    assert fields.principal_needle("assumed-role/Admin") == "role/Admin"
    assert fields.principal_needle("assumed-role/order-service (ecs-1)") == "assumed-role/order-service (ecs-1)"


def test_any_value_is_decided_after_loading_in_sql():
    from datetime import UTC, datetime

    from kmstui.core import sql

    window = sql.Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    generated = sql.generate(query.parse("-key:* ip:* event:=Decrypt"), window)
    assert generated.after == ["key:*", "ip:*"]  # not narrowed in SQL: kmstui's filter decides
    assert "'*'" not in generated.sql and not generated.exact
    assert "eventname" in generated.sql.lower()
