"""Shared fixtures: `aws_endpoints` (loopback AWS, from fakeaws.py; `aws_pace` with it keeps
AWS's own LookupEvents rate), `s3` (moto's S3 behind a logging proxy, from fakes3.py) and
`demo_index` (the demo, loaded once) are available to every test module."""

from __future__ import annotations

import pytest

pytest_plugins = ("fakeaws", "fakes3")


@pytest.fixture(scope="session")
def _demo_index_once():
    from appkit import DEMO, loaded  # imports Textual: only for the tests that ask for the demo

    return loaded(DEMO)


@pytest.fixture
def demo_index(_demo_index_once):
    """The demo as the explorer holds it after loading it, loaded once per session: hand it to
    ``make_app(index=demo_index)`` in tests about what the explorer does with the events (filter,
    select, open, group). Tests about the loading itself use ``make_app(DEMO)``.

    It is shared, so it must stay as it was: the test fails if it changed (its events, its
    generation, its load report). A test that adds to an index loads its own."""
    index = _demo_index_once

    def state():
        report = index.report
        return (index.size, index.snapshot.generation, len(report.skipped), len(report.problems))

    before = state()
    yield index
    assert state() == before, "a test changed the shared demo index: it should load its own (make_app(DEMO))"


@pytest.fixture
def aws_pace(aws_endpoints, monkeypatch):
    """LookupEvents at AWS's own quota, 2 requests a second, not the fakes' quick pace: for the
    tests of the quota itself (kmstui keeps to it by default)."""
    from kmstui.core.live import lookup

    monkeypatch.delenv(lookup.RATE_VARIABLE)
    aws_endpoints.rate = lookup.REQUESTS_PER_SECOND
    return aws_endpoints
