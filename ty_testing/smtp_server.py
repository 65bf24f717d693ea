"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd in its own thread, keeping what it receives.

Each accepted message is parsed into an ``email.message.EmailMessage`` and kept with its envelope
(:class:`ReceivedMail`); :meth:`SmtpTestServer.wait_for` waits on a condition for the n-th one, so a
test of a background task needs no sleep. The listening socket is bound before the server starts
(port 0: the system picks a free port, no race).

As strict as a real server where asked:

- ``reject``: these recipients get ``550 5.1.1`` at RCPT;
- ``credentials``: AUTH (PLAIN or LOGIN, as ``auth_mechanisms`` allow) is required before MAIL
  (``530 5.7.0``), wrong credentials get ``535 5.7.8``. Without TLS the server offers AUTH in clear
  (aiosmtpd's ``auth_require_tls=False``), as a local relay would; with ``security="starttls"`` only
  after STARTTLS;
- ``disconnect_at``: the connection is dropped without an answer at MAIL, RCPT or DATA (after the
  message was transferred: the client cannot know whether it arrived; it is not kept);
- ``security``: ``starttls`` (offered and required before MAIL) or ``tls`` (TLS from the first byte), with
  the PEM file (key and certificate) ``certificate``; :func:`self_signed_certificate` makes one.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["MAIL", "RCPT", "DATA"]
Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: the envelope, the parsed message, the bytes as received."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None  # who logged in on that connection; None without AUTH


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    login: str
    success: bool


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> Path:
    """A PEM file with a fresh key, a certificate for ``host`` (an IP address or a name) and the throwaway CA that
    signed it (``trustme``): the server loads it as its chain, :func:`client_context` trusts its CA."""
    folder.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    leaf = authority.issue_cert(host)
    pem = folder / "smtp-keycert.pem"
    pem.write_bytes(leaf.private_key_pem.bytes() + b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
                    + authority.cert_pem.bytes())
    return pem


def client_context(certificate: Path) -> ssl.SSLContext:
    """A client context that trusts ``certificate`` (and checks the host name against it)."""
    return ssl.create_default_context(cafile=str(certificate))


class _Controller(Controller):
    """aiosmtpd's threaded controller listening on a socket bound beforehand (so port 0 works)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any):
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


@dataclass
class SmtpTestServer:
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port (see .port after start)
    reject: frozenset[str] | set[str] = frozenset()  # recipients answered 550 at RCPT (case-insensitive)
    credentials: tuple[str, str] | None = None  # (login, password): AUTH required before MAIL
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    disconnect_at: Stage | None = None
    security: Security = "none"
    certificate: Path | None = None  # PEM with key and certificate; needed for starttls and tls
    hostname: str = "smtp.test"  # the name in the greeting (aiosmtpd would look up the FQDN)

    def __post_init__(self) -> None:
        if self.security != "none" and self.certificate is None:
            raise ValueError(f"security={self.security!r} needs a certificate (self_signed_certificate())")
        self._messages: list[ReceivedMail] = []
        self._auth_attempts: list[AuthAttempt] = []
        self._changed = threading.Condition()
        self._controller: _Controller | None = None

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        assert self._controller is None, "server already started"
        context = None
        if self.certificate is not None and self.security != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.certificate))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(16)
        sock.setblocking(False)
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in {x.upper() for x in self.auth_mechanisms}]
        options: dict[str, Any] = {
            "server_hostname": self.hostname,
            "authenticator": self._authenticate,
            "auth_exclude_mechanism": excluded,
            # AUTH in clear without TLS (as a local relay); with STARTTLS only after it. Required-ness is
            # checked at MAIL (handle_MAIL), which spares aiosmtpd's warning about auth_required without TLS.
            "auth_require_tls": self.security == "starttls",
        }
        if self.security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        controller = _Controller(_Handler(self), sock, ssl_context=context if self.security == "tls" else None,
                                 **options)
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        self.port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    # ------------------------------------------------------------ what arrived
    @property
    def messages(self) -> list[ReceivedMail]:
        with self._changed:
            return list(self._messages)

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        with self._changed:
            return list(self._auth_attempts)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> ReceivedMail:
        """The ``count``-th message received (1: the first), waiting up to ``timeout`` seconds for it."""
        if count < 1:
            raise ValueError("count starts at 1")
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} message(s) received within {timeout} s, not {count}")
            return self._messages[count - 1]

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()
            self._auth_attempts.clear()

    # ------------------------------------------------------------ called from the server's thread
    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        success = (login, password) == self.credentials
        with self._changed:
            self._auth_attempts.append(AuthAttempt(mechanism, login, success))
            self._changed.notify_all()
        return AuthResult(success=success, handled=False, auth_data=login if success else None)

    def _keep(self, mail: ReceivedMail) -> None:
        with self._changed:
            self._messages.append(mail)
            self._changed.notify_all()


async def _drop(server: SMTP) -> str:
    """Drop the connection without an answer (as a crashing server); the session task is cancelled."""
    assert isinstance(server.transport, asyncio.Transport)
    server.transport.abort()
    await asyncio.sleep(0)  # connection_lost runs and cancels this session's task
    return "421 4.3.0 connection dropped"  # not sent: the transport is gone


class _Handler:
    """aiosmtpd's handler hooks (MAIL, RCPT, DATA) for one :class:`SmtpTestServer`."""

    def __init__(self, owner: SmtpTestServer):
        self.owner = owner

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          mail_options: list[str]) -> str:
        if self.owner.disconnect_at == "MAIL":
            return await _drop(server)
        if self.owner.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if self.owner.disconnect_at == "RCPT":
            return await _drop(server)
        if address.lower() in {r.lower() for r in self.owner.reject}:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.owner.disconnect_at == "DATA":
            return await _drop(server)
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=default_policy)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.owner._keep(ReceivedMail(mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos),
                                      message=message, raw=raw, login=login))
        return f"250 2.0.0 OK: queued as {len(self.owner.messages)}"


__all__ = ["AuthAttempt", "ReceivedMail", "SmtpTestServer", "client_context", "self_signed_certificate"]
