"""Athena: the filter run as SQL over the CloudTrail table, its results loaded into the index.

:class:`AthenaLoader` writes the query (:mod:`kmstui.core.sql`), starts it
(StartQueryExecution: the workgroup, and the output location given or the workgroup's own),
polls GetQueryExecution for its state and the data scanned (the cost follows at the public
price per TB), stops it (StopQueryExecution) when the user does, and then streams the query's
result file, CSV in S3, row by row into records the loaders read: into a private JSON Lines
file (0600, in this run's private folder, which the detail view reads records back from) and
the index, a batch at a time, so events appear as they arrive. GetQueryResults is not used:
it pages 1,000 rows a call.
"""

from __future__ import annotations

import codecs
import csv
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ..decode import decode_records
from ..index import EventIndex
from ..query import Filter
from ..sources import private_dir
from ..sql import Query, RowError, RowReader, Table, cost, generate, window
from ..text import clean
from .cache import open_private
from .errors import LiveError, client, sentence, session

BATCH_ROWS = 2000  # rows decoded and added to the index at a time
POLL_FIRST, POLL_MOST = 0.25, 2.0  # seconds between GetQueryExecution calls, growing
DONE = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class AthenaOptions:
    table: str
    organization: bool = False
    accounts: tuple[str, ...] = ()  # only these accounts' events
    workgroup: str | None = None  # None: primary
    output_location: str | None = None  # None: the workgroup's
    profile: str | None = None
    region: str | None = None  # None: the profile's
    since: str | None = None
    until: str | None = None
    filter: Filter = field(default_factory=Filter)
    now: datetime | None = None


@dataclass
class AthenaProgress:
    state: str = "PREPARING"  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED; then LOADING, LOADED
    query_id: str | None = None  # as AWS gave it, to send back; shown through clean()
    scanned: int = 0  # bytes Athena has scanned
    rows: int = 0  # result rows read
    events: int = 0  # events added to the index
    started: float = field(default_factory=time.monotonic)
    finished: bool = False
    cancelled: bool = False

    @property
    def cost(self) -> float:
        return cost(self.scanned)

    @property
    def describe(self) -> str:
        """The state, what was scanned and what it costs: ``RUNNING, 1.2 GB scanned (about $0.0055)``."""
        text = f"Athena {self.state.lower()}, {_size(self.scanned)} scanned (about ${self.cost:.4f})"
        if self.rows:
            text += f", {self.rows:,} rows read, {self.events:,} events"
        return text


def _size(count: int) -> str:
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


class AthenaLoader:
    """One Athena query's events into an index."""

    def __init__(self, index: EventIndex, options: AthenaOptions):
        self.index = index
        self.options = options
        self.query: Query | None = None
        self.problems: list[str] = []  # one sentence each
        self.progress = AthenaProgress()
        self.session: Any = None
        self.region = ""
        self.path: Path | None = None

    def prepare(self) -> Query:
        """The credentials, the window and the SQL; LiveError when they will not do."""
        try:
            span = window(self.options.since, self.options.until, self.options.now)
        except ValueError as error:
            raise LiveError(str(error)) from None
        self.session = session(self.options.profile)
        self.region = self.options.region or self.session.region_name or "us-east-1"
        bad = [a for a in self.options.accounts if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise LiveError(f"--account {bad[0]!r} is not an AWS account id (12 digits).")
        table = Table(self.options.table, self.options.organization, tuple(self.options.accounts))
        self.query = generate(self.options.filter, span, table)
        return self.query

    def fetch(
        self,
        on_progress: Callable[[AthenaProgress], None] = lambda p: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> AthenaProgress:
        """Run the query and load its results; what fails is a sentence in :attr:`problems`."""
        assert self.query is not None, "prepare() first"
        progress = self.progress
        try:
            athena = client(self.session, "athena", self.region)
            location = self._run(athena, on_progress, cancelled)
            if location is not None and not cancelled():
                self._load(location, on_progress, cancelled)
        except Exception as error:
            self.problems.append(sentence(error, self.region))
        progress.cancelled = cancelled()
        progress.finished = True
        self.index.refresh()
        on_progress(progress)
        return progress

    def _run(self, athena: Any, on_progress: Callable[[AthenaProgress], None], cancelled: Callable[[], bool]):
        """Start and poll; the result file's S3 location when the query succeeded."""
        assert self.query is not None
        progress = self.progress
        asked: dict[str, Any] = {"QueryString": self.query.sql, "WorkGroup": self.options.workgroup or "primary"}
        if self.options.output_location:
            asked["ResultConfiguration"] = {"OutputLocation": self.options.output_location}
        try:
            query_id = athena.start_query_execution(**asked)["QueryExecutionId"]
        except Exception as error:
            raise LiveError(sentence(error, self.region, "StartQueryExecution")) from None
        progress.query_id = query_id
        progress.state = "QUEUED"
        on_progress(progress)
        wait = POLL_FIRST
        while True:
            try:
                execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            except Exception as error:
                raise LiveError(sentence(error, self.region, "GetQueryExecution")) from None
            status = execution.get("Status", {})
            progress.state = clean(str(status.get("State", "UNKNOWN")))[:20]  # AWS's words: shown, never obeyed
            scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
            if isinstance(scanned, int):
                progress.scanned = scanned
            on_progress(progress)
            if progress.state == "SUCCEEDED":
                return execution.get("ResultConfiguration", {}).get("OutputLocation")
            if progress.state == "FAILED":
                reason = clean(str(status.get("StateChangeReason") or "no reason given"))[:500]
                self.problems.append(f"The Athena query {_shown(query_id)} failed: {reason}.")
                return None
            if progress.state == "CANCELLED":
                self.problems.append(f"The Athena query {_shown(query_id)} was cancelled before it finished.")
                return None
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if cancelled():
                    self._stop(athena)
                    return None
                time.sleep(0.05)
            wait = min(POLL_MOST, wait * 1.5)

    def _stop(self, athena: Any) -> None:
        progress = self.progress
        try:
            athena.stop_query_execution(QueryExecutionId=progress.query_id)
            self.problems.append(f"Stopped the Athena query {_shown(progress.query_id)} (StopQueryExecution).")
        except Exception as error:
            self.problems.append(sentence(error, self.region, "StopQueryExecution"))
        progress.state = "CANCELLED"

    def stop(self) -> None:
        """Stop the query if it is still running (Ctrl+C, quitting): Athena bills what it scans."""
        progress = self.progress
        if progress.query_id is None or progress.state not in ("QUEUED", "RUNNING") or self.session is None:
            return
        try:
            self._stop(client(self.session, "athena", self.region))
        except Exception as error:
            self.problems.append(sentence(error, self.region, "StopQueryExecution"))

    def _load(self, location: str, on_progress: Callable[[AthenaProgress], None], cancelled: Callable[[], bool]):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        if not location.startswith("s3://") or not bucket or not key:
            raise LiveError(f"Athena gave a result location that is not in S3: {clean(location)}.")
        s3 = client(self.session, "s3", self.region)
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as error:
            raise LiveError(sentence(error, self.region, "GetObject")) from None
        progress = self.progress
        progress.state = "LOADING"
        self.path = Path(private_dir()) / f"athena-{secrets.token_hex(4)}.jsonl"
        os.close(open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        label = f"Athena {self.options.table}"
        written = 0
        broken: dict[str, int] = {}
        reader = csv.reader(_lines(body))
        header = [name.strip().lower() for name in next(reader, [])]
        missing = {"eventid", "eventname", "eventsource", "eventtime"} - set(header)
        if missing:
            raise LiveError(
                f"The Athena result has no {', '.join(sorted(missing))} column: not the columns kmstui asked for."
            )
        reading = RowReader(header)
        batch: list[bytes] = []
        for cells in reader:
            if cancelled():
                break
            progress.rows += 1
            try:
                batch.append(_json(reading.record(cells)))
            except RowError as error:
                broken[str(error)] = broken.get(str(error), 0) + 1
            if len(batch) >= BATCH_ROWS:
                written = self._add(batch, label, written)
                on_progress(progress)
                batch = []
        if batch:
            written = self._add(batch, label, written)
        for why, count in broken.items():
            rows = f"{count:,} result row" + ("" if count == 1 else "s")
            self.problems.append(f"{rows} of the Athena query could not be read as records ({why}): skipped.")
        if cancelled():
            progress.state = "STOPPED"
            self.problems.append(
                f"Stopped reading the Athena result after {progress.rows:,} rows: the events read so far are kept."
            )
        else:
            progress.state = "LOADED"

    def _add(self, batch: list[bytes], label: str, written: int) -> int:
        assert self.path is not None
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(b"".join(line + b"\n" for line in batch))
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        decoded = decode_records(batch, label, str(self.path), first_ordinal=written, appendable=True, format="jsonl")
        self.index.add(decoded)
        self.index.refresh()
        self.progress.events += decoded.n
        return written + len(batch)


def _json(record: dict) -> bytes:
    return msgspec.json.encode(record)  # exact for integers past 64 bits, as the loaders read them


def _shown(query_id: object) -> str:
    return clean(str(query_id))[:80]


def _lines(body: Any) -> Iterator[str]:
    """The result file's text, line by line as it arrives (a quoted cell may span lines: the
    csv reader joins them)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in body.iter_chunks(1 << 20):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending
