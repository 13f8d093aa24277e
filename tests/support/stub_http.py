"""What the local stand-ins of cloud APIs share (tests only): a threaded HTTP server on a free
port of 127.0.0.1, JSON answers, and scripted faults.

A stub subclasses `StubServer` and says three things: how to record a request (`record`), how to
answer it (`serve`) and what its service's error body looks like (`error_body`). Tests script the
next answers with `inject(...)`, each Fault used by one request, in order:

- `Fault.error(429, headers={"Retry-After": "2"})`: an HTTP error in the service's own format;
- `Fault.slow(seconds)`: the real answer, after a pause (longer than the client's timeout = a
  server that does not answer in time);
- `Fault.malformed()`: 200 with a JSON content type and a body that is not JSON;
- `Fault.truncated()`: the real answer's headers, then half its body, then the connection closes;
- `Fault.reset()`: the connection is reset (TCP RST) before any answer.

A request answered by a fault is still recorded, so tests can count the tries a client made.
`silent_port()` is the other kind of broken server: it accepts connections and never answers;
`closed_port_url()` is none at all: nothing listens there, a connection is refused at once.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MALFORMED_BODY = b'{"text": "this answer stops in the middle of a str'


@dataclass
class Reply:
    """One JSON answer."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """One scripted misbehaviour (see the module docstring)."""

    kind: str
    status: int = 200
    body: Any = None
    message: str = "scripted failure"
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def error(cls, status: int, message: str = "scripted failure", code: str | None = None,
              headers: dict[str, str] | None = None, body: Any = None) -> Fault:
        """An HTTP error; `body` None means the stub's own error format with `message` and `code`."""
        return cls("error", status, body, message, code, dict(headers or {}))

    @classmethod
    def reply(cls, status: int, body: Any) -> Fault:
        """A scripted answer of any status, this exact JSON body (e.g. a 200 without the content)."""
        return cls("error", status, body)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls("slow", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def truncated(cls) -> Fault:
        return cls("truncated")

    @classmethod
    def reset(cls) -> Fault:
        return cls("reset")


class StubServer:
    """The server, its fault script and its lifecycle. Use as a context manager (or start/stop)."""

    def __init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # -- what subclasses provide ------------------------------------------------------------------

    def record(self, path: str, headers: dict[str, str], body: bytes) -> Any:
        """Remember the request (headers have lower-case names); the returned object goes to `serve`."""
        raise NotImplementedError

    def serve(self, request: Any) -> Reply:
        raise NotImplementedError

    def error_body(self, status: int, message: str, code: str | None) -> Any:
        raise NotImplementedError

    def answered(self, request: Any, reply: Reply) -> None:
        """Called with the reply a request got (a scripted error included); stubs may record it."""

    # -- test controls ------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, *faults: Fault) -> None:
        """The next requests (one per fault, in order) get these faults instead of a normal answer."""
        with self._lock:
            self._faults.extend(faults)

    def fail_next(self, status: int, message: str = "scripted failure", code: str | None = None,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next request with this error, in the service's format."""
        self.inject(Fault.error(status, message, code, headers))

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _reply(self, request: Any, fault: Fault | None) -> Reply:
        if fault is not None and fault.kind == "error":
            body = fault.body if fault.body is not None else self.error_body(fault.status, fault.message, fault.code)
            reply = Reply(fault.status, body, fault.headers)
        else:
            reply = self.serve(request)
        self.answered(request, reply)
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.do_POST()  # read_body finds no body; the stub's `record`/`serve` route by path

            def do_POST(self) -> None:
                body = read_body(self)
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = stub.record(self.path.split("?")[0], headers, body)
                fault = stub._next_fault()
                if fault is not None and fault.kind == "reset":
                    self._reset()
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind == "malformed":
                    self._send(200, {"content-type": "application/json"}, MALFORMED_BODY)
                    return
                reply = stub._reply(request, fault)
                data = json.dumps(reply.body).encode()
                headers_out = {"content-type": "application/json; charset=UTF-8", **reply.headers}
                if fault is not None and fault.kind == "truncated":
                    self._send(reply.status, headers_out, data, cut=len(data) // 2)
                    return
                self._send(reply.status, headers_out, data)

            def _send(self, status: int, headers: dict[str, str], data: bytes, cut: int | None = None) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data if cut is None else data[:cut])
                if cut is not None:
                    self.wfile.flush()
                    self._close()

            def _reset(self) -> None:
                """Close with SO_LINGER 0: the client gets a TCP RST instead of an answer."""
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self._close()

            def _close(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.close()
                self.wfile = io.BytesIO()  # the handler's final flush must not touch the closed socket

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (its timeout passed during a slow answer) is expected here, not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, whether sent with Content-Length or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
            out += handler.rfile.read(size)
            handler.rfile.readline()
        handler.rfile.readline()
        return bytes(out)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


@contextlib.contextmanager
def silent_port() -> Iterator[str]:
    """http://127.0.0.1:PORT of a server that accepts connections (the kernel's backlog does) and
    never reads or answers: every client wait on it must end by the client's own deadline."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def closed_port_url() -> str:
    """http://127.0.0.1:PORT where nothing listens (a port the kernel just handed out, closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
