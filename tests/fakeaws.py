"""Fake AWS endpoints for kmstui tests, so that no test ever talks to AWS.

moto (in server mode, in this process) answers KMS, STS, S3 and the CloudTrail control plane
(DescribeTrails, GetTrailStatus, GetEventSelectors, ...). moto does not implement CloudTrail
LookupEvents, and boto3 has one CloudTrail endpoint, so `FakeCloudTrail` is that endpoint: it
answers LookupEvents itself, from records the test seeds, with AWS's rules (newest first, pages
of at most 50, one lookup attribute, NextToken bound to the parameters of the call that made it,
a 90-day window), and forwards every other CloudTrail request unchanged to moto.

    def test_something(aws_endpoints):
        aws_endpoints.cloudtrail.add_records("us-east-1", [record, ...])
        aws_endpoints.client("kms").create_key()
        ...  # kmstui, via the standard credential chain and AWS_ENDPOINT_URL_* variables

Servers are started once per test session and reset for every test.
"""

from __future__ import annotations

import atexit
import bisect
import http.client
import json
import re
import secrets
import socket
import struct
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"
TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
LOOKUP_EVENTS = "LookupEvents"
ATTRIBUTE_KEYS = frozenset(
    {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}
)
RETENTION_SECONDS = 90 * 86400
MAX_RESULTS = 50

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
# Not relayed as they are: they describe one hop, and the body is re-sent with its own length.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te", "trailer"}
)


def relay(
    handler: BaseHTTPRequestHandler, target: str, body: bytes, send: Callable[[int, list[tuple[str, str]], bytes], None]
) -> int:
    """Send the request ``handler`` is answering on to ``target`` as it came (a proxy's hop: the
    same method, path, headers and body), and its answer back through ``send``; its status."""
    parsed = urllib.parse.urlsplit(target)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.putrequest(handler.command, handler.path, skip_host=True, skip_accept_encoding=True)
        for name, value in handler.headers.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        payload = response.read()
        send(response.status, [(n, v) for n, v in response.getheaders() if n.lower() not in _HOP_BY_HOP], payload)
        return response.status
    finally:
        connection.close()


class AwsError(Exception):
    """An error answer in CloudTrail's JSON protocol: {"__type": code, "message": message}."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class LookupRequest:
    """One LookupEvents request as the fake saw it."""

    region: str
    account: str
    access_key: str
    body: dict[str, Any]
    throttled: bool = False
    error: str | None = None  # the error code answered, if any (ThrottlingException included)
    at: float = 0.0  # time.monotonic() on arrival
    returned: int = 0  # number of events answered


@dataclass
class Call:
    """Any request to the fake CloudTrail endpoint: LookupEvents or forwarded to moto."""

    operation: str
    region: str
    account: str
    access_key: str
    forwarded: bool
    status: int = 0


@dataclass
class Fault:
    """A misbehaviour queued for LookupEvents: "error" (an AWS error answer), "body" (these
    bytes, as they are), "reset" (the connection cut, no answer), "stall" (a late answer)."""

    kind: str
    after: int  # LookupEvents requests still to answer normally before this one applies
    count: int  # requests it applies to
    code: str = ""
    message: str = ""
    status: int = 200
    body: bytes = b""
    seconds: float = 0.0
    paged: bool = False  # only on a request for a next page (with a NextToken), never a first


@dataclass(order=True)
class _Stored:
    sort_key: tuple[float, int]  # (event time, insertion sequence); newest first = descending
    event: dict[str, Any] = field(compare=False)


def epoch_of(event_time: str) -> float:
    """CloudTrail's eventTime ("2026-11-20T10:00:00Z", fractions allowed) in epoch seconds."""
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()


def _username(identity: dict[str, Any]) -> str | None:
    """The Username that LookupEvents shows for a userIdentity."""
    if identity.get("userName"):
        return identity["userName"]
    kind = identity.get("type")
    if kind == "Root":
        return "root"
    arn = identity.get("arn") or ""
    if kind in ("AssumedRole", "FederatedUser", "IdentityCenterUser") and "/" in arn:
        return arn.rsplit("/", 1)[1]  # the session name
    if kind == "AWSService":
        return identity.get("invokedBy")
    return None


def lookup_event(record: dict[str, Any]) -> dict[str, Any]:
    """The LookupEvents response event that AWS builds for a CloudTrail record."""
    identity = record.get("userIdentity") or {}
    read_only = record.get("readOnly")
    if isinstance(read_only, bool):
        read_only = "true" if read_only else "false"
    elif read_only is not None:
        read_only = str(read_only).lower()
    event = {
        "EventId": record["eventID"],
        "EventName": record.get("eventName"),
        "ReadOnly": read_only,
        "AccessKeyId": identity.get("accessKeyId"),
        "EventTime": int(epoch_of(record["eventTime"])),
        "EventSource": record.get("eventSource"),
        "Username": _username(identity),
        "Resources": [
            {key: value for key, value in (("ResourceType", r.get("type")), ("ResourceName", r.get("ARN"))) if value}
            for r in record.get("resources") or []
        ],
        "CloudTrailEvent": json.dumps(record),
    }
    return {key: value for key, value in event.items() if value is not None}


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    if key == "ResourceType":
        return any(r.get("ResourceType") == value for r in event["Resources"])
    if key == "ResourceName":
        return any(r.get("ResourceName") == value for r in event["Resources"])
    return event.get(key) == value


def _as_epoch(value: float | int | datetime) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


class FakeCloudTrail:
    """A CloudTrail endpoint on 127.0.0.1 that answers LookupEvents and forwards the rest to moto.

    The region of a request is that of its SigV4 credential scope; its account is
    `accounts[access key]`, else `account_resolver(access key)` if set, else `default_account`.
    """

    def __init__(self, forward_to: str | None = None, default_account: str = DEFAULT_ACCOUNT):
        self.forward_to = forward_to
        self.default_account = default_account
        self.accounts: dict[str, str] = {}
        self.account_resolver: Callable[[str], str | None] | None = None
        # NextToken must come back with every other parameter unchanged; MaxResults included.
        self.bind_max_results = True
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeCloudTrail:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="FakeCloudTrail", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeCloudTrail:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget records, tokens, logs, throttling and queued failures (not the forward target)."""
        held = getattr(self, "_released", None)
        if held is not None:
            held.set()  # nothing stays waiting across tests
        stalled = getattr(self, "_stalls", None)
        if stalled is not None:
            stalled.set()
        self._stalls = threading.Event()  # set: stalled answers go at once
        with self._lock:
            self._events: dict[tuple[str, str], list[_Stored]] = defaultdict(list)
            self._seq = 0
            self._tokens: dict[str, tuple[str, str, str, tuple[float, int]]] = {}
            self._times: dict[tuple[str, str], list[float]] = defaultdict(list)
            self._failures: deque[tuple[str, str, int, str | None]] = deque()
            self._faults: list[Fault] = []
            self._loop: list[str] = []  # NextTokens handed out in a cycle (loop_tokens)
            self._loop_turn = 0
            self.ignore_time_range = False
            self._throttle_next = 0
            self._throttle_every: int | None = None
            self._throttle_operation: str | None = LOOKUP_EVENTS
            self._throttle_count = 0
            self._now: float | None = None
            self._hold_after: int | None = None
            self._released = threading.Event()
            self._released.set()
            self.accounts.clear()
            self.bind_max_results = True
            self.requests: list[LookupRequest] = []
            self.calls: list[Call] = []

    # -- seeding and control --------------------------------------------------------------

    def add_records(self, region: str, records: Iterable[dict[str, Any]], account: str = DEFAULT_ACCOUNT) -> None:
        """Make these CloudTrail records visible to LookupEvents in this account and region."""
        with self._lock:
            bucket = self._events[(account, region)]
            for record in records:
                self._seq += 1
                bucket.append(_Stored((epoch_of(record["eventTime"]), self._seq), lookup_event(record)))
            bucket.sort(reverse=True)

    def add_account(self, access_key: str, account: str) -> None:
        """Requests signed with this access key belong to this account."""
        self.accounts[access_key] = account

    @property
    def now(self) -> float:
        """ "Now" for the 90-day window, in epoch seconds: real time unless a test set it."""
        return time.time() if self._now is None else self._now

    @now.setter
    def now(self, value: float | int | datetime | None) -> None:
        self._now = None if value is None else _as_epoch(value)

    def throttle(self, every: int | None = None, next: int = 0, operation: str | None = LOOKUP_EVENTS) -> None:
        """Answer the next `next` requests, and every `every`-th request from now on, with
        400 ThrottlingException "Rate exceeded". Only `operation` (None: any CloudTrail call).
        throttle() with no arguments stops throttling."""
        with self._lock:
            self._throttle_next = next
            self._throttle_every = every
            self._throttle_operation = operation
            self._throttle_count = 0

    def fail_next(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        operation: str | None = None,
        count: int = 1,
        after: int = 0,
        paged: bool = False,
    ) -> None:
        """Answer the next `count` requests for `operation` (None: any CloudTrail call, forwarded
        ones included) with {"__type": code, "message": message} and this HTTP status; with
        `after`, only once that many LookupEvents requests have been answered (page three: after=2),
        and with `paged` as well, only on a request for a next page (two loads at once: the fault
        stops one of them half way whichever made the requests before it)."""
        if after or paged:
            self._fault(Fault("error", after, count, code=code, message=message, status=status, paged=paged))
            return
        with self._lock:
            for _ in range(count):
                self._failures.append((code, message, status, operation))

    def answer_next(self, body: bytes, status: int = 200, count: int = 1, after: int = 0) -> None:
        """Answer LookupEvents requests with these bytes as they are (a body that is not JSON)."""
        self._fault(Fault("body", after, count, body=body, status=status))

    def reset_next(self, count: int = 1, after: int = 0) -> None:
        """Reset the connection of LookupEvents requests instead of answering (TCP RST)."""
        self._fault(Fault("reset", after, count))

    def stall_next(self, seconds: float, count: int = 1, after: int = 0) -> None:
        """Keep LookupEvents requests waiting `seconds` (at most 30, less after reset()) before
        answering: longer than the client's read timeout, it times out."""
        self._fault(Fault("stall", after, count, seconds=min(seconds, 30.0)))

    def loop_tokens(self, cycle: int = 1) -> None:
        """Every LookupEvents answer gives a NextToken from a cycle of `cycle` tokens (1: the
        same token forever), and any of them is accepted, as a broken endpoint would."""
        with self._lock:
            self._loop = [f"loop-{i}-{secrets.token_hex(4)}" for i in range(cycle)]
            self._loop_turn = 0

    def add_events(self, region: str, events: Iterable[dict[str, Any]], account: str = DEFAULT_ACCOUNT) -> None:
        """LookupEvents events stored as they are (EventTime in epoch seconds), for answers that
        AWS would not build from a record (a CloudTrailEvent that is not a JSON object)."""
        with self._lock:
            bucket = self._events[(account, region)]
            for event in events:
                self._seq += 1
                bucket.append(_Stored((float(event["EventTime"]), self._seq), dict(event)))
            bucket.sort(reverse=True)

    def _fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, next_page: bool) -> Fault | None:
        """The fault for this LookupEvents request, if any (every queued fault counts it);
        ``next_page``: the request carries a NextToken."""
        with self._lock:
            chosen = None
            for fault in self._faults:
                if fault.after > 0:
                    fault.after -= 1
                elif chosen is None and fault.count > 0 and (next_page or not fault.paged):
                    fault.count -= 1
                    chosen = fault
            self._faults = [f for f in self._faults if f.count > 0]
            return chosen

    def hold(self, after: int) -> None:
        """Let `after` more LookupEvents requests through, then keep the rest waiting until
        release(): a load caught half way, for a test to look at."""
        with self._lock:
            self._hold_after = after
            self._released.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._released.set()

    def expire_tokens(self) -> None:
        """Every NextToken handed out so far becomes invalid (InvalidNextTokenException)."""
        with self._lock:
            self._tokens.clear()

    # -- assertions -----------------------------------------------------------------------

    def request_times(self, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> list[float]:
        """time.monotonic() of every LookupEvents request (throttled and failed ones too)."""
        with self._lock:
            return list(self._times.get((account, region), ()))

    def max_rate(self, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION, window: float = 1.0) -> int:
        """The most LookupEvents requests seen within any `window` seconds (half-open window)."""
        times = sorted(self.request_times(account, region))
        best = 0
        for i, start in enumerate(times):
            best = max(best, bisect.bisect_left(times, start + window, lo=i) - i)
        return best

    def lookups(self, region: str | None = None, account: str | None = None) -> list[LookupRequest]:
        return [
            r
            for r in self.requests
            if (region is None or r.region == region) and (account is None or r.account == account)
        ]

    # -- request handling -----------------------------------------------------------------

    def account_for(self, access_key: str) -> str:
        if access_key in self.accounts:
            return self.accounts[access_key]
        if self.account_resolver is not None:
            resolved = self.account_resolver(access_key)
            if resolved:
                return resolved
        return self.default_account

    def _take_failure(self, operation: str) -> AwsError | None:
        for i, (code, message, status, wanted) in enumerate(self._failures):
            if wanted is None or wanted == operation:
                del self._failures[i]
                return AwsError(code, message, status)
        return None

    def _take_throttle(self, operation: str) -> bool:
        if self._throttle_operation is not None and self._throttle_operation != operation:
            return False
        self._throttle_count += 1
        if self._throttle_next > 0:
            self._throttle_next -= 1
            return True
        return bool(self._throttle_every) and self._throttle_count % self._throttle_every == 0

    def _before(self, operation: str) -> AwsError | None:
        """A queued failure or throttling decision for this request, if any."""
        with self._lock:
            failure = self._take_failure(operation)
            if failure is not None:
                return failure
            if self._take_throttle(operation):
                return AwsError("ThrottlingException", "Rate exceeded", 400)
        return None

    def lookup_events(
        self, account: str, region: str, access_key: str, body: dict[str, Any] | None, arrived: float | None = None
    ) -> dict[str, Any]:
        """Answer one LookupEvents request (raises AwsError). body None: it was not a JSON object.
        ``arrived``: when the request came in (now, if not given)."""
        with self._lock:
            held = self._hold_after is not None and self._hold_after <= 0
            if self._hold_after is not None:
                self._hold_after -= 1
        if held:
            self._released.wait(30)
        entry = LookupRequest(
            region,
            account,
            access_key,
            body if body is not None else {},
            at=arrived if arrived is not None else time.monotonic(),
        )
        with self._lock:
            self.requests.append(entry)
            self._times[(account, region)].append(entry.at)
        try:
            failure = self._before(LOOKUP_EVENTS)
            if failure is not None:
                raise failure
            if body is None:
                raise AwsError("SerializationException", "Request body is not a JSON object.")
            answer = self._lookup(account, region, body)
        except AwsError as error:
            entry.error = error.code
            entry.throttled = error.code == "ThrottlingException"
            raise
        entry.returned = len(answer["Events"])
        return answer

    def _lookup(self, account: str, region: str, body: dict[str, Any]) -> dict[str, Any]:
        max_results = body.get("MaxResults", MAX_RESULTS)
        if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
            raise AwsError("InvalidMaxResultsException", "Value for MaxResults is invalid.")
        attributes = body.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise AwsError("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
        for attribute in attributes:
            if not isinstance(attribute, dict):
                raise AwsError("InvalidLookupAttributesException", "Invalid LookupAttributes.")
            key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
            if key not in ATTRIBUTE_KEYS:
                raise AwsError("InvalidLookupAttributesException", f"Invalid AttributeKey: {key}.")
            if not isinstance(value, str) or not 1 <= len(value) <= 2000:
                raise AwsError("InvalidLookupAttributesException", "Invalid AttributeValue.")
        start, end = body.get("StartTime"), body.get("EndTime")
        for name, value in (("StartTime", start), ("EndTime", end)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise AwsError("SerializationException", f"{name} must be a timestamp in epoch seconds.")
        if start is not None and end is not None and start > end:
            raise AwsError("InvalidTimeRangeException", "Start time must be before end time.")
        category = body.get("EventCategory")
        if category not in (None, "insight"):
            raise AwsError("InvalidEventCategoryException", f"Invalid EventCategory: {category}.")

        bound = {k: v for k, v in body.items() if k != "NextToken" and (self.bind_max_results or k != "MaxResults")}
        fingerprint = json.dumps(bound, sort_keys=True)
        with self._lock:
            after: tuple[float, int] | None = None
            token = body.get("NextToken")
            if token is not None and token in self._loop:
                pass  # a looping endpoint takes its own tokens back and starts again
            elif token is not None:
                saved = self._tokens.get(token)
                if saved is None:
                    raise AwsError("InvalidNextTokenException", "Invalid NextToken.")
                if saved[:3] != (account, region, fingerprint):
                    raise AwsError(
                        "InvalidNextTokenException", "NextToken was used with parameters different from its call."
                    )
                after = saved[3]
            if category == "insight":
                return {"Events": []}
            oldest = self.now - RETENTION_SECONDS
            page: list[_Stored] = []
            more = False
            for stored in self._events.get((account, region), ()):  # newest first
                if after is not None and stored.sort_key >= after:
                    continue
                when = stored.sort_key[0]
                if when < oldest:
                    continue
                if not self.ignore_time_range and (
                    (start is not None and when < start) or (end is not None and when > end)
                ):
                    continue
                if attributes and not _matches(
                    stored.event, attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
                ):
                    continue
                if len(page) == max_results:
                    more = True
                    break
                page.append(stored)
            answer: dict[str, Any] = {"Events": [dict(s.event) for s in page]}
            if more:
                new_token = secrets.token_urlsafe(32)
                self._tokens[new_token] = (account, region, fingerprint, page[-1].sort_key)
                answer["NextToken"] = new_token
            if self._loop:
                answer["NextToken"] = self._loop[self._loop_turn % len(self._loop)]
                self._loop_turn += 1
            return answer


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCloudTrail
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client gave up (a stalled answer after its read timeout)
            self.close_connection = True

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(
            status,
            [("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Type", "application/x-amz-json-1.1")],
            json.dumps(payload).encode(),
        )

    def _handle(self) -> None:
        arrived = time.monotonic()  # before anything else: the rate is measured at arrival, as AWS would
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.headers.get("X-Amz-Target") or ""
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else target or "?"
        match = _CREDENTIAL.search(self.headers.get("Authorization") or "")
        if not match:
            self._send_json(
                403, {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}
            )
            return
        access_key, region = match.group(1), match.group(3)
        fake = self.fake
        account = fake.account_for(access_key)
        call = Call(operation, region, account, access_key, forwarded=operation != LOOKUP_EVENTS)
        with fake._lock:
            fake.calls.append(call)
        try:
            if operation == LOOKUP_EVENTS:
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = None
                if not isinstance(request, dict):
                    request = None
                fault = fake._take_fault(next_page=bool(request and request.get("NextToken")))
                if fault is not None and self._misbehave(fault, call, account, region, access_key, arrived):
                    return
                answer = fake.lookup_events(account, region, access_key, request, arrived)
                call.status = 200
                self._send_json(200, answer)
                return
            failure = fake._before(operation)
            if failure is not None:
                raise failure
            call.status = self._forward(body)
        except AwsError as error:
            call.status = error.status
            self._send_json(error.status, {"__type": error.code, "message": error.message})
        except Exception as error:  # a bug in the fake: make it visible to the client
            call.status = 500
            self._send_json(500, {"__type": "InternalFailure", "message": f"fakeaws: {error!r}"})

    def _misbehave(self, fault: Fault, call: Call, account: str, region: str, access_key: str, arrived: float) -> bool:
        """Act out a queued fault; True when the request is answered (or cut) by it."""
        fake = self.fake
        entry = LookupRequest(region, account, access_key, {}, error=fault.kind, at=arrived)
        if fault.kind == "stall":
            fake._stalls.wait(fault.seconds)
            return False  # then answered as usual: the client has given up by then
        with fake._lock:
            fake.requests.append(entry)
            fake._times[(account, region)].append(arrived)
        if fault.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            call.status = 0
            return True
        if fault.kind == "body":
            call.status = fault.status
            self._send(fault.status, [("x-amzn-RequestId", str(uuid.uuid4()))], fault.body)
            return True
        entry.error = fault.code
        call.status = fault.status
        self._send_json(fault.status, {"__type": fault.code, "message": fault.message})
        return True

    def _forward(self, body: bytes) -> int:
        target = self.fake.forward_to
        if not target:
            raise AwsError("UnknownOperationException", "FakeCloudTrail has nowhere to forward this request.")
        return relay(self, target, body, self._send)

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


# -- moto ---------------------------------------------------------------------------------


class _Servers:
    """moto and the fake CloudTrail, started once per process (both run in daemon threads)."""

    _lock = threading.Lock()
    _instance: _Servers | None = None

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self.cloudtrail = FakeCloudTrail(forward_to=self.moto_url).start()
        atexit.register(self.stop)

    def stop(self) -> None:
        self.cloudtrail.stop()
        self.moto.stop()

    @classmethod
    def get(cls) -> _Servers:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance


def reset_moto(moto_url: str) -> None:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _moto_account(access_key: str) -> str | None:
    """The account moto gives this access key (so AssumeRole into another account works for both)."""
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


_LOADERS: dict[str | None, Any] = {}


def _shared_loader(search_path_string: str | None = None):
    """botocore's data loader (service models, endpoints, partitions), one per data path for
    the whole test process. kmstui makes a boto3 session of its own for every run, as it
    should, and each new session reads and parses botocore's JSON afresh: about a second of
    CPU a run (the EC2 model, for DescribeRegions, half of it), for files that never change.
    The aws_endpoints fixture lets every session share this one; the credential chain and
    everything else of a session stay its own."""
    from botocore import loaders

    if search_path_string not in _LOADERS:
        _LOADERS[search_path_string] = loaders.create_loader(search_path_string)
    return _LOADERS[search_path_string]


_SESSION = None


def _session():
    """One boto3 session for the helper clients: it caches loaded service models, which makes a
    client ten times cheaper. Everything else is explicit (keys, region, endpoint)."""
    global _SESSION
    import boto3

    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


# LookupEvents requests a second against the fakes: they have no quota to keep to, and at AWS's
# 2 a second each page of a test costs half a second. kmstui still paces every request (the
# same code, turns a fifth as long); tests of the quota itself take `aws_pace`.
QUICK_RATE = 10.0


@dataclass
class AwsEndpoints:
    """What the `aws_endpoints` fixture yields."""

    cloudtrail: FakeCloudTrail
    moto_url: str
    rate: float = QUICK_RATE  # the LookupEvents pace kmstui keeps in this test (KMSTUI_LOOKUP_RATE)

    @property
    def pace_window(self) -> float:
        """The span in which kmstui sends at most two LookupEvents requests: a second at AWS's
        rate; fakeaws's max_rate(window=...) checks it."""
        return 2 / self.rate

    @property
    def cloudtrail_url(self) -> str:
        return self.cloudtrail.url

    @property
    def account(self) -> str:
        return self.cloudtrail.default_account

    def endpoint_for(self, service: str) -> str:
        return self.cloudtrail.url if service == "cloudtrail" else self.moto_url

    def client(self, service: str, region: str = DEFAULT_REGION, **kwargs: Any):
        """A boto3 client against the fakes (CloudTrail: FakeCloudTrail; anything else: moto)."""
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return _session().client(service, region_name=region, endpoint_url=self.endpoint_for(service), **kwargs)

    def reset(self) -> None:
        reset_moto(self.moto_url)
        self.cloudtrail.reset()

    def create_trail(
        self,
        name: str = "management",
        region: str = DEFAULT_REGION,
        bucket: str | None = None,
        multi_region: bool = True,
        logging: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A trail in moto (creating its S3 bucket first, as moto requires): CreateTrail's answer."""
        bucket = bucket or f"{name}-trail-logs-{self.account}"
        s3 = self.client("s3", region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        cloudtrail = self.client("cloudtrail", region)
        trail = cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region, **kwargs)
        if logging:
            cloudtrail.start_logging(Name=name)
        return trail

    def exclude_kms(self, name: str, region: str = DEFAULT_REGION) -> None:
        """PutEventSelectors leaving KMS out of a trail's management events."""
        self.client("cloudtrail", region).put_event_selectors(
            TrailName=name,
            EventSelectors=[
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                }
            ],
        )


_SCRUBBED_ENV = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_SDK_UA_APP_ID",
    "MOTO_ACCOUNT_ID",
)


@pytest.fixture
def aws_endpoints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """moto + FakeCloudTrail, reset, with the environment pointing boto3 (and kmstui) at them,
    kmstui's caches in the test's own folder (never the user's, where every test run on the
    machine would share the LookupEvents pace file), and LookupEvents paced at QUICK_RATE.

    tests/conftest.py makes it available to every test module."""
    servers = _Servers.get()
    endpoints = AwsEndpoints(servers.cloudtrail, servers.moto_url)
    endpoints.reset()

    # moto's account for the "testing" key (and any key it does not know) is ours, so that key
    # ARNs from moto and the seeded CloudTrail records agree. Keys from STS AssumeRole into another
    # account belong to that account, in moto and in the fake CloudTrail alike.
    import moto.iam.models

    monkeypatch.setattr(moto.iam.models, "DEFAULT_ACCOUNT_ID", servers.cloudtrail.default_account)
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)
    servers.cloudtrail.account_resolver = _moto_account

    for name in _SCRUBBED_ENV:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    credentials = tmp_path / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    environment = {
        "AWS_ENDPOINT_URL_CLOUDTRAIL": servers.cloudtrail.url,
        "AWS_ENDPOINT_URL_KMS": servers.moto_url,
        "AWS_ENDPOINT_URL_STS": servers.moto_url,
        "AWS_ENDPOINT_URL_EC2": servers.moto_url,  # DescribeRegions, for --region all
        "AWS_ENDPOINT_URL_S3": servers.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # platformdirs' user cache folder
        "KMSTUI_LOOKUP_RATE": str(endpoints.rate),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoints
    finally:
        servers.cloudtrail.account_resolver = None
        servers.cloudtrail.reset()


# -- Athena ---------------------------------------------------------------------------------


@dataclass
class AthenaExecution:
    """One query as the fake Athena holds it."""

    query_id: str
    sql: str
    workgroup: str
    output: str  # s3://bucket/prefix/ID.csv
    state: str = "QUEUED"
    reason: str | None = None
    scanned: int = 0


class FakeAthena:
    """Athena on loopback, in its own JSON protocol (``AmazonAthena.StartQueryExecution``...),
    for ``AWS_ENDPOINT_URL_ATHENA``. moto's Athena accepts queries but never runs them; this one
    does: it translates the submitted SQL (Trino) with sqlglot, runs it in DuckDB over the table a
    test built (tests/athena_table.py), and writes the result file as Athena does (a CSV, every
    cell quoted, NULL an empty cell) to the output location in moto's S3. Bad SQL ends FAILED
    with the engine's reason; StopQueryExecution ends CANCELLED; ``hold`` keeps a query RUNNING
    until it is stopped or released, so a test can cancel it."""

    def __init__(self, s3_client: Any):
        self.s3 = s3_client
        self.connection: Any = None  # the DuckDB connection holding the table
        self.workgroups: dict[str, str | None] = {"primary": None}  # name -> default output location
        self.executions: dict[str, AthenaExecution] = {}
        self.calls: list[str] = []  # operation names, in order
        self.denied: set[str] = set()  # operations answered AccessDeniedException
        self.scanned_per_query = 1_234_567_890
        self.held = threading.Event()
        self.held.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _AthenaHandler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.held.set()
        self._server.shutdown()
        self._server.server_close()

    def hold(self) -> None:
        """Keep the next queries RUNNING until :meth:`release` (or StopQueryExecution)."""
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    # -- the API

    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(operation)
        if operation in self.denied:
            raise AwsError("AccessDeniedException", f"User is not authorized to perform: athena:{operation}")
        if operation == "StartQueryExecution":
            return self._start(body)
        if operation == "GetQueryExecution":
            return {"QueryExecution": self._describe(self._execution(body))}
        if operation == "StopQueryExecution":
            execution = self._execution(body)
            with self._lock:
                if execution.state in ("QUEUED", "RUNNING"):
                    execution.state = "CANCELLED"
            return {}
        raise AwsError("InvalidRequestException", f"{operation} is not served by the fake Athena")

    def _execution(self, body: dict[str, Any]) -> AthenaExecution:
        execution = self.executions.get(str(body.get("QueryExecutionId")))
        if execution is None:
            raise AwsError("InvalidRequestException", "QueryExecution not found")
        return execution

    def _start(self, body: dict[str, Any]) -> dict[str, Any]:
        sql = body.get("QueryString")
        if not isinstance(sql, str) or not sql:
            raise AwsError("InvalidRequestException", "QueryString is required")
        workgroup = body.get("WorkGroup") or "primary"
        if workgroup not in self.workgroups:
            raise AwsError("InvalidRequestException", f"WorkGroup {workgroup} is not found.")
        output = (body.get("ResultConfiguration") or {}).get("OutputLocation") or self.workgroups[workgroup]
        if not output:
            raise AwsError(
                "InvalidRequestException",
                "No output location provided. An output location is required either through the Workgroup"
                " result configuration setting or as an API input.",
            )
        query_id = str(uuid.uuid4())
        execution = AthenaExecution(query_id, sql, workgroup, output.rstrip("/") + f"/{query_id}.csv")
        self.executions[query_id] = execution
        threading.Thread(target=self._execute, args=(execution,), daemon=True).start()
        return {"QueryExecutionId": query_id}

    def _describe(self, execution: AthenaExecution) -> dict[str, Any]:
        status: dict[str, Any] = {"State": execution.state, "SubmissionDateTime": time.time()}
        if execution.reason:
            status["StateChangeReason"] = execution.reason
        return {
            "QueryExecutionId": execution.query_id,
            "Query": execution.sql,
            "StatementType": "DML",
            "WorkGroup": execution.workgroup,
            "ResultConfiguration": {"OutputLocation": execution.output},
            "Status": status,
            "Statistics": {"DataScannedInBytes": execution.scanned, "EngineExecutionTimeInMillis": 1},
        }

    def _execute(self, execution: AthenaExecution) -> None:
        import sqlglot

        with self._lock:
            if execution.state == "QUEUED":
                execution.state = "RUNNING"
        execution.scanned = self.scanned_per_query // 2
        self.held.wait()
        if execution.state != "RUNNING":  # stopped while held
            return
        try:
            translated = sqlglot.transpile(execution.sql, read="trino", write="duckdb")[0]
            cursor = self.connection.cursor()
            result = cursor.execute(translated)
            names = [d[0] for d in result.description]
            rows = result.fetchall()
        except Exception as error:  # what Athena says of bad SQL: FAILED, with the reason
            with self._lock:
                if execution.state == "RUNNING":
                    execution.state, execution.reason = "FAILED", f"SYNTAX_ERROR: {error}"
            return
        lines = [_csv_line(names)] + [_csv_line([None if v is None else str(v) for v in row]) for row in rows]
        bucket, _, key = execution.output.removeprefix("s3://").partition("/")
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body="".join(lines).encode())
        except Exception as error:  # Athena cannot write its result: FAILED, with the reason
            with self._lock:
                execution.state, execution.reason = (
                    "FAILED",
                    f"Unable to write the result to {execution.output}: {error}",
                )
            return
        with self._lock:
            if execution.state == "RUNNING":
                execution.state = "SUCCEEDED"
                execution.scanned = self.scanned_per_query


def _csv_line(cells: list[str | None]) -> str:
    """Athena's CSV: every value quoted, a NULL an empty cell."""
    return ",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in cells) + "\n"


class _AthenaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake: FakeAthena = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        status, payload = 200, {}
        try:
            if not target.startswith("AmazonAthena.") or "Credential=" not in self.headers.get("Authorization", ""):
                raise AwsError("UnknownOperationException", f"not an Athena call: {target!r}")
            payload = fake.answer(target.removeprefix("AmazonAthena."), json.loads(raw or b"{}"))
        except AwsError as error:
            status, payload = error.status, {"__type": error.code, "Message": error.message}
        body = json.dumps(payload, default=str).encode()
        self.send_response_only(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def athena_endpoint(aws_endpoints: AwsEndpoints, monkeypatch: pytest.MonkeyPatch):
    """A fake Athena (above), with the environment pointing boto3 at it; the test gives it a
    table (``fake.connection``) and an output bucket in moto's S3."""
    fake = FakeAthena(aws_endpoints.client("s3"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_ATHENA", fake.url)
    try:
        yield fake
    finally:
        fake.stop()
