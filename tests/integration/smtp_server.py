# SPDX-License-Identifier: MPL-2.0
"""A real SMTP server for the tests: Debian's python3-aiosmtpd on
127.0.0.1 at a free port, in a thread of the test process. It keeps every
message it accepts, can answer chosen codes (a 4xx for the next N
messages, a 5xx for a recipient), and can be stopped and started again on
the same port (a relay that is away for a while).

Use the `smtp` fixture (import it into a test module):

    from smtp_server import smtp  # noqa: F401  (the fixture)

    def test_x(smtp, kontaktd):
        d = kontaktd(config={"smtp": smtp.config(**{"from": FROM})})
        ...
        msg = smtp.wait_for(1)[0]
"""

import asyncio
from asyncio import sslproto
import collections
import email
import email.policy
import logging
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, TLSSetupException

from utils import free_port, wait_until

# aiosmtpd's protocol log (each line read and answered, connections made
# and lost, TLS set-up), kept in memory for a failed test's report (see
# SmtpServer.log); bounded.
_TRACE = collections.deque(maxlen=2000)
_trace_count = 0
_trace_lock = threading.Lock()


class _TraceHandler(logging.Handler):
    def emit(self, record):
        global _trace_count
        try:
            line = "%s.%03d %s" % (
                time.strftime("%H:%M:%S", time.localtime(record.created)),
                int(record.msecs), record.getMessage())
        except Exception:  # a record that does not format
            line = repr(record.msg)
        with _trace_lock:
            _TRACE.append((_trace_count, line))
            _trace_count += 1


class Trace:
    """aiosmtpd's protocol log of this process from now on (conftest shows
    it with a failed test's report). Same interface as a daemon's log."""

    def __init__(self):
        with _trace_lock:
            self.start = _trace_count

    def log(self, start=0):
        with _trace_lock:
            return "\n".join(line for n, line in _TRACE
                             if n >= self.start)


def _trace(msg, *args):
    logging.getLogger("mail.log").debug(msg, *args)


_log = logging.getLogger("mail.log")
_log.setLevel(logging.DEBUG)
_log.addHandler(_TraceHandler())
_log.propagate = False


class Received:
    """One accepted message: the envelope and the parsed message."""

    def __init__(self, mail_from, rcpt_tos, data):
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.data = data
        self.msg = email.message_from_bytes(data,
                                            policy=email.policy.default)

    def __getitem__(self, name):
        return self.msg[name]

    def text(self):
        """The body, decoded (transfer encoding and charset)."""
        return self.msg.get_content()


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        with self.server.lock:
            code = self.server.sender_code
        if code:
            return code
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        with self.server.lock:
            code = self.server.reject_rcpt.get(address.lower())
        if code:
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            delay = self.server.data_delay
        if delay:
            # The message is taken, the answer comes late: a client that
            # dies meanwhile does not know that it was.
            with self.server.lock:
                self.server.messages.append(
                    Received(envelope.mail_from, envelope.rcpt_tos,
                             envelope.content))
                self.server.data_delay = 0
            await asyncio.sleep(delay)
            return "250 2.0.0 Message accepted"
        with self.server.lock:
            if self.server.defer_next > 0:
                self.server.defer_next -= 1
                self.server.deferred += 1
                return self.server.defer_code
            self.server.messages.append(
                Received(envelope.mail_from, envelope.rcpt_tos,
                         envelope.content))
        return "250 2.0.0 Message accepted"


class _SMTP(SMTP):
    """aiosmtpd's SMTP with a STARTTLS that cannot lose the client's first
    TLS bytes. aiosmtpd 1.4 awaits the "220 Ready to start TLS" reply
    before it puts its TLS layer in place, and a client that answers fast
    could have its ClientHello read by the plain SMTP layer meanwhile: the
    handshake would never start. Reading pauses from before the reply
    until the TLS layer takes the socket. (The "dropped connection (last
    reply: 250 HELP)" sessions once blamed on this were libESMTP's, see
    tls_drain in src/channels/smtp/ch_smtp.c; the protocol log below
    showed them.)"""

    async def smtp_STARTTLS(self, arg):
        if arg or not self.tls_context:
            return await super().smtp_STARTTLS(arg)
        transport = self.transport
        transport.pause_reading()
        _trace("%r STARTTLS: reading paused", self.session.peer)
        await self.push("220 Ready to start TLS")
        # As aiosmtpd does it, with reading resumed once the TLS layer
        # holds the socket.
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(
            self.loop, self, self.tls_context, waiter, server_side=True)
        self._original_transport = transport
        transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(transport)
        transport.resume_reading()
        _trace("%r STARTTLS: TLS layer in place", self.session.peer)
        try:
            await waiter
        except asyncio.CancelledError:
            _trace("%r STARTTLS: cancelled", self.session.peer)
            raise
        except Exception as error:
            _trace("%r STARTTLS: handshake failed: %r", self.session.peer,
                   error)
            raise TLSSetupException() from error
        _trace("%r STARTTLS: handshake done", self.session.peer)


class _Controller(Controller):
    def factory(self):
        return _SMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """auth=(user, password): AUTH is required (without TLS, on
    loopback) and only that login is accepted. tls_context: STARTTLS is
    offered with it."""

    def __init__(self, port=None, auth=None, tls_context=None):
        self.port = port or free_port()
        self.auth = auth
        self.tls_context = tls_context
        self.logins = []  # (mechanism, user, accepted)
        self.lock = threading.Lock()
        self.messages = []
        self.reject_rcpt = {}
        self.sender_code = None
        self.data_delay = 0
        self.defer_next = 0
        self.deferred = 0
        self.defer_code = "451 4.3.0 Try again later"
        self.controller = None


    def start(self):
        assert self.controller is None
        kw = {}
        if self.auth:
            kw.update(authenticator=self._authenticate, auth_required=True,
                      auth_require_tls=False)
        if self.tls_context:
            kw.update(tls_context=self.tls_context)
        self.controller = _Controller(_Handler(self), hostname="127.0.0.1",
                                     port=self.port, **kw)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and
              (data.login.decode(), data.password.decode()) == self.auth)
        with self.lock:
            self.logins.append((mechanism, data.login.decode()
                                if isinstance(data, LoginPassword) else None,
                                ok))
        return AuthResult(success=ok)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self, **extra):
        """[smtp] settings that send here."""
        cfg = {"host": "127.0.0.1", "port": str(self.port), "tls": "none",
               "retry_after": "1s", "timeout": "5s"}
        cfg.update(extra)
        return cfg

    def defer(self, n, code="451 4.3.0 Try again later"):
        """Answer the DATA of the next n messages with code."""
        with self.lock:
            self.defer_next = n
            self.defer_code = code

    def reject(self, address, code="550 5.1.1 No such user here"):
        """Answer RCPT TO:<address> with code, from now on."""
        with self.lock:
            self.reject_rcpt[address.lower()] = code

    def answer_late(self, seconds):
        """Take the next message but answer its DATA only after seconds."""
        with self.lock:
            self.data_delay = seconds

    def refuse_sender(self, code="553 5.7.1 Sender not allowed"):
        """Answer every MAIL FROM with code, from now on."""
        with self.lock:
            self.sender_code = code

    def received(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, n, timeout=20):
        """Waits until at least n messages have come; returns them all."""
        wait_until(lambda: len(self.received()) >= n, timeout,
                   f"{n} message(s) at the SMTP server")
        return self.received()

    def stays(self, n, seconds=2.0):
        """Asserts that the count stays n for a while (nothing twice)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            got = len(self.received())
            assert got == n, f"{got} messages at the SMTP server, not {n}"
            time.sleep(0.1)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
