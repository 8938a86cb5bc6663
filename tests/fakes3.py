"""S3 for the bucket tests: moto's S3 (in server mode) behind a small logging proxy.

The proxy forwards every request to moto unchanged and writes down what it saw, so a test
can say which prefixes kmstui listed and which objects it read. Two hooks act out what
moto cannot: a callable run before a GetObject of one key is forwarded (delete the object
there: the race between listing and reading), and a key whose GetObject is refused as S3
refuses it when KMS does not allow kms:Decrypt.

    def test_something(s3):
        s3.client.put_object(Bucket="trail", Key="...", Body=b"...")
        s3.before_get["AWSLogs/..."] = lambda: s3.client.delete_object(...)
        ...  # kmstui, via AWS_ENDPOINT_URL_S3 (set to the proxy by the fixture)
        s3.listed_prefixes()
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fakeaws import AwsEndpoints, relay

KMS_DENIED = (
    "User: arn:aws:iam::111122223333:user/responder is not authorized to perform: kms:Decrypt on the resource "
    "associated with this ciphertext because the resource does not exist in this account, or the resource policy "
    "does not allow it"
)


@dataclass
class S3Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    status: int = 0

    @property
    def is_list(self) -> bool:
        return self.method == "GET" and not self.key and self.query.get("list-type") == "2"

    @property
    def is_get(self) -> bool:
        return self.method == "GET" and bool(self.key)


@dataclass
class S3Proxy:
    target: str
    requests: list[S3Request] = field(default_factory=list)
    before_get: dict[str, Callable[[], None]] = field(default_factory=dict)
    deny_kms: set[str] = field(default_factory=set)
    held: frozenset[str] = frozenset()  # keys whose GetObject waits for release()
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> S3Proxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="S3Proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def listed(self) -> list[S3Request]:
        with self._lock:
            return [r for r in self.requests if r.is_list]

    def listed_prefixes(self, delimiter: bool | None = None) -> list[str]:
        """The prefixes of the ListObjectsV2 requests (with a delimiter, without, or both)."""
        return [
            r.query.get("prefix", "")
            for r in self.listed()
            if delimiter is None or ("delimiter" in r.query) == delimiter
        ]

    def gets(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.requests if r.is_get]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def hold(self, keys) -> None:
        """Keep GetObject requests for these keys waiting until release()."""
        self._released.clear()
        self.held = frozenset(keys)

    def release(self) -> None:
        self.held = frozenset()
        self._released.set()


class _Handler(BaseHTTPRequestHandler):
    proxy: S3Proxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path).lstrip("/")
        bucket, _, key = path.partition("/")
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        request = S3Request(self.command, bucket, key, query)
        proxy = self.proxy
        with proxy._lock:
            proxy.requests.append(request)
        if request.is_get and key in proxy.deny_kms:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>{KMS_DENIED}</Message><RequestId>1</RequestId></Error>"
            ).encode()
            request.status = 403
            self._send(403, [("Content-Type", "application/xml")], payload)
            return
        if request.is_get and key in proxy.held:
            proxy._released.wait(30)
        hook = proxy.before_get.pop(key, None) if request.is_get else None
        if hook is not None:
            hook()
        request.status = self._forward(body)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes) -> int:
        return relay(self, self.proxy.target, body, self._send)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@dataclass
class S3:
    """What the `s3` fixture yields: the proxy, a client straight to moto, and the endpoints."""

    proxy: S3Proxy
    aws: AwsEndpoints
    client: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proxy, name)


_PROXY: S3Proxy | None = None


@pytest.fixture
def s3(aws_endpoints: AwsEndpoints, monkeypatch: pytest.MonkeyPatch, tmp_path):
    """moto's S3 behind the logging proxy; AWS_ENDPOINT_URL_S3 points kmstui at the proxy,
    and the cache directory is the test's own."""
    global _PROXY
    if _PROXY is None:
        _PROXY = S3Proxy(aws_endpoints.moto_url).start()
    proxy = _PROXY
    proxy.clear()
    proxy.before_get.clear()
    proxy.deny_kms.clear()
    proxy.release()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        yield S3(proxy, aws_endpoints, aws_endpoints.client("s3"))
    finally:
        proxy.release()
