"""E-mail to users (account verification, password reset): one plain-text message over SMTP, or to the log.

``TY_SMTP_HOST`` picks the way:

- unset (the development default): the whole mail (To, Subject, text) is written to the log (logger
  ``ty.mail``, level INFO) and nothing is sent, so a developer can follow the verification or reset link
  from the console. **A production deployment must set TY_SMTP_HOST**, or no user ever gets a mail;
- set: the mail goes to that server, ``TY_SMTP_SECURITY`` deciding how: ``starttls`` (port 587: plain
  connection, then STARTTLS, refused when the server does not offer it), ``tls`` (port 465: TLS from the
  first byte) or ``none`` (a local relay; the password, if any, then crosses the network in clear). TLS
  verifies the server's certificate and name with the system's CAs. With ``TY_SMTP_USER`` the client logs
  in (``TY_SMTP_PASSWORD``). ``TY_SMTP_TIMEOUT_S`` bounds the connect and each reply of the server.

Every message: ``From`` = ``TY_MAIL_FROM`` (its address is the envelope sender too), ``To``, ``Subject``,
``Date`` (Europe/Berlin), ``Message-ID`` in the sender's domain, a ``text/plain; charset=utf-8`` body
(quoted-printable, so it passes every relay). ``to`` and ``subject`` containing CR or LF raise
``ValueError`` (header injection), as does a ``to`` that is not exactly one address.

Sending is synchronous: the web app calls it from its mail threads (``ty_web/account_mail.py``). What fails
raises :class:`MailError`, whose message never holds the SMTP password.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email import errors
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from typing import Literal, get_args

from pydantic import SecretStr

from ty_resources.germany import BERLIN
from ty_resources.settings import Settings, get_settings

log = logging.getLogger("ty.mail")

Security = Literal["starttls", "tls", "none"]
SECURITIES: tuple[str, ...] = get_args(Security)
_LINE_BREAKS = ("\r", "\n")
# Parsed fine, only flagged: a period in an unquoted display name ("talent.yoga <noreply@talent.yoga>", the
# default TY_MAIL_FROM) is obsolete syntax every mail program writes; a non-ASCII local part needs SMTPUTF8,
# which smtplib asks the server for (else MailError).
_TOLERATED_DEFECTS = (errors.ObsoleteHeaderDefect, errors.NonASCIILocalPartDefect)


class MailError(RuntimeError):
    """A mail the SMTP server did not accept (refused connection, timeout, TLS, login, a refused sender or
    recipient, a dropped connection). ``code`` is the server's reply code where it gave one; ``permanent``
    tells a 5xx (retrying will not help) from the rest."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


def _has_line_break(value: str) -> bool:
    """CR or LF anywhere, or another character ``str.splitlines`` breaks at (U+2028, VT, FF, ...)."""
    return any(c in value for c in _LINE_BREAKS) or len(value.splitlines()) > 1


def parse_address(value: str, what: str = "address") -> Address:
    """Exactly one address (``a@b.de`` or ``Name <a@b.de>``) parsed by the standard library's header parser.

    Raises ``ValueError`` for CR/LF, a list, a group, a missing local part or domain, or what the parser
    flags as a defect.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if _has_line_break(value):
        raise ValueError(f"{what} must not contain line breaks")
    if not value.strip():
        raise ValueError(f"{what} is empty")
    try:
        header = default_policy.header_factory("To", value)
    except Exception:  # the parser raises HeaderParseError, but also IndexError ("a@") and the like
        raise ValueError(f"{what} is not a valid e-mail address") from None
    defects = [d for d in header.defects if not isinstance(d, _TOLERATED_DEFECTS)]
    if not isinstance(header, AddressHeader):  # pragma: no cover - the default policy's "To" is an AddressHeader
        raise ValueError(f"{what} could not be parsed")
    if defects:
        raise ValueError(f"{what} is not a valid e-mail address: {defects[0]}")
    if len(header.groups) != 1 or header.groups[0].display_name is not None or len(header.addresses) != 1:
        raise ValueError(f"{what} must be exactly one e-mail address")
    address = header.addresses[0]
    if not address.username or not address.domain or any(c.isspace() for c in address.addr_spec):
        raise ValueError(f"{what} is not a valid e-mail address")
    return address


class Mailer:
    """Sends one plain-text mail at a time; :meth:`from_settings` builds it from ``TY_SMTP_*``/``TY_MAIL_FROM``.

    ``host`` None: mails are logged, not sent (the development default). ``ssl_context`` replaces the default
    context (the system's CAs, hostname checked): tests pass one that trusts their own certificate.
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int = 587,
        security: Security = "starttls",
        user: str | None = None,
        password: SecretStr | str | None = None,
        timeout_s: float = 10.0,
        sender: str = "talent.yoga <noreply@talent.yoga>",
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ):
        host = (host or "").strip() or None
        user = (user or "").strip() or None
        if security not in SECURITIES:
            raise ValueError(f"TY_SMTP_SECURITY={security!r} is not one of {', '.join(SECURITIES)}")
        if not 1 <= port <= 65535:
            raise ValueError(f"TY_SMTP_PORT must be 1..65535, not {port}")
        if timeout_s <= 0:
            raise ValueError(f"TY_SMTP_TIMEOUT_S must be positive, not {timeout_s}")
        secret = password if isinstance(password, SecretStr) or password is None else SecretStr(password)
        if host is not None and user is not None and secret is None:
            raise ValueError("TY_SMTP_USER is set but TY_SMTP_PASSWORD is not")
        if not (user or "").isascii() or (secret is not None and not secret.get_secret_value().isascii()):
            raise ValueError("TY_SMTP_USER and TY_SMTP_PASSWORD must be ASCII (smtplib's AUTH sends them so)")
        try:
            self.sender = parse_address(sender, "TY_MAIL_FROM")
        except ValueError as exc:
            raise ValueError(f"{exc} (got {sender!r})") from None
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self._password = secret
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, ssl_context: ssl.SSLContext | None = None) -> Mailer:
        s = settings or get_settings()
        return cls(host=s.smtp_host, port=s.smtp_port, security=s.smtp_security, user=s.smtp_user,
                   password=s.smtp_password, timeout_s=s.smtp_timeout_s, sender=s.mail_from,
                   ssl_context=ssl_context)

    def __repr__(self) -> str:
        return (f"Mailer(target={self.target!r}, security={self.security!r}, user={self.user!r}, "
                f"sender={str(self.sender)!r})")

    @property
    def sends(self) -> bool:
        """Whether mails go to an SMTP server (else they are only logged)."""
        return self.host is not None

    @property
    def target(self) -> str:
        """Where mails go, safe to log."""
        return f"smtp://{self.host}:{self.port}" if self.host is not None else "log only"

    # ------------------------------------------------------------------ message
    def build_message(self, to: str, subject: str, text: str) -> EmailMessage:
        """The message :meth:`send` would send; ``ValueError`` for header injection or a bad address."""
        if not isinstance(subject, str) or _has_line_break(subject):
            raise ValueError("subject must be a string without line breaks")
        recipient = parse_address(to, "recipient")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(BERLIN))
        message["Message-ID"] = make_msgid(domain=self.sender.domain)
        message.set_content(text, charset="utf-8", cte="quoted-printable")
        return message

    # ------------------------------------------------------------------ sending
    def send(self, to: str, subject: str, text: str) -> None:
        """Send one plain-text mail to ``to`` (one address), or log it when no SMTP host is set.

        Raises ``ValueError`` for CR/LF in ``to`` or ``subject`` or a ``to`` that is not one address (before
        any connection), :class:`MailError` when the server did not take the mail.
        """
        message = self.build_message(to, subject, text)
        recipient: Address = message["To"].addresses[0]
        if self.host is None:
            log.info(
                "e-mail not sent (TY_SMTP_HOST is unset; a production deployment must set it)\n"
                "To: %s\nSubject: %s\n\n%s",
                recipient, subject, text,
                extra={"mail_to": str(recipient), "mail_subject": subject, "mail_message_id": message["Message-ID"]},
            )
            return
        try:
            self._deliver(message, recipient.addr_spec)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (None, b""))
            raise self._error(f"the recipient was refused: {code} {_text(reply)}", code) from None
        except smtplib.SMTPSenderRefused as exc:
            raise self._error(f"the sender was refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                              exc.smtp_code) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise self._error(f"login as {self.user!r} failed: {exc.smtp_code} {_text(exc.smtp_error)}",
                              exc.smtp_code) from None
        except smtplib.SMTPResponseException as exc:
            raise self._error(f"the server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                              exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(f"the server does not support what is needed: {exc}") from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib turns a read timeout into a disconnect
                raise self._error(f"no answer within {self.timeout_s:g} s") from None
            raise self._error(f"the server closed the connection: {exc or 'unexpectedly'}") from None
        except smtplib.SMTPException as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from None
        except TimeoutError:
            raise self._error(f"no answer within {self.timeout_s:g} s") from None
        except ssl.SSLError as exc:  # before OSError: an SSLError is one
            raise self._error(f"TLS failed: {exc}") from None
        except OSError as exc:  # refused, unreachable, unknown host
            raise self._error(f"could not connect: {type(exc).__name__}: {exc.strerror or exc}") from None
        log.info("e-mail sent via %s", self.target,
                 extra={"mail_message_id": message["Message-ID"], "mail_to_domain": recipient.domain})

    def _connect(self) -> smtplib.SMTP:
        assert self.host is not None
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                    timeout=self.timeout_s, context=self._context())
        return smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout_s)

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _deliver(self, message: EmailMessage, recipient: str) -> None:
        smtp = self._connect()
        try:
            if self.security == "starttls":  # refused (SMTPNotSupportedError) when the server does not offer it
                smtp.starttls(context=self._context())
            if self.user is not None:
                password = self._password.get_secret_value() if self._password is not None else ""
                smtp.login(self.user, password)
            smtp.send_message(message, from_addr=self.sender.addr_spec, to_addrs=[recipient])
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server has taken the mail; a lost goodbye changes nothing
        finally:
            smtp.close()

    def _error(self, detail: str, code: int | None = None) -> MailError:
        message = f"e-mail not sent via {self.target}: {detail}".rstrip()
        password = self._password.get_secret_value() if self._password is not None else ""
        if password:
            message = message.replace(password, "***")
        error = MailError(message, code)
        log.warning("%s", message, extra={"mail_error_code": code})
        return error


def _text(reply: bytes | str) -> str:
    """A server reply as text (it may be bytes, and in any charset)."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
