"""The mailer against a real SMTP server on 127.0.0.1 (aiosmtpd): headers, body, envelope, AUTH, TLS, failures."""

from __future__ import annotations

import logging
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from ty_resources.mail import Mailer, MailError, parse_address
from ty_resources.settings import Settings
from ty_testing.smtp_server import SmtpTestServer, client_context, self_signed_certificate

SENDER = "talent.yoga <noreply@talent.yoga>"
TEXT = "Hallo Jürgen,\n\nbitte bestätige deine Adresse: http://127.0.0.1:8000/verify?token=abc\n\nGrüße, Ömer ß €\n"


def mailer(server: SmtpTestServer | None = None, **kwargs) -> Mailer:
    options: dict[str, Any] = {"host": server.host if server else None, "port": server.port if server else 587,
               "security": "none", "sender": SENDER, "timeout_s": 5.0, "local_hostname": "client.test"}
    options.update(kwargs)
    return Mailer(**options)


@pytest.fixture
def smtp():
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("smtp-tls"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once closed


def test_sends_headers_body_and_envelope(smtp):
    mailer(smtp).send("Jürgen Müller <juergen@example.org>", "Bestätige deine Adresse – talent.yoga", TEXT)
    mail = smtp.wait_for(1, timeout=5)
    message = mail.message
    assert mail.mail_from == "noreply@talent.yoga"
    assert mail.rcpt_tos == ("juergen@example.org",)
    assert mail.login is None
    assert str(message["From"].addresses[0]) == '"talent.yoga" <noreply@talent.yoga>'
    assert message["To"].addresses[0].addr_spec == "juergen@example.org"
    assert message["To"].addresses[0].display_name == "Jürgen Müller"
    assert message["Subject"] == "Bestätige deine Adresse – talent.yoga"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@talent.yoga>")
    sent_at = parsedate_to_datetime(message["Date"])
    assert sent_at.tzinfo is not None and abs(time.time() - sent_at.timestamp()) < 300
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n") == TEXT  # CRLF on the wire
    assert mail.raw.isascii()  # quoted-printable body, RFC 2047 subject: 7-bit clean on the wire
    assert b"\r\nSubject: =?utf-8?" in mail.raw


def test_each_message_gets_its_own_id(smtp):
    m = mailer(smtp)
    m.send("a@example.org", "eins", "1")
    m.send("b@example.org", "zwei", "2")
    first, second = smtp.wait_for(1), smtp.wait_for(2)
    assert first.message["Message-ID"] != second.message["Message-ID"]
    assert [mail.rcpt_tos for mail in smtp.messages] == [("a@example.org",), ("b@example.org",)]


def test_wait_for_times_out_without_a_message(smtp):
    with pytest.raises(TimeoutError):
        smtp.wait_for(1, timeout=0.05)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_the_right_credentials(mechanism):
    with SmtpTestServer(credentials=("mailer", "s3cret-Passw0rt!"), auth_mechanisms=(mechanism,)) as server:
        mailer(server, user="mailer", password="s3cret-Passw0rt!").send("a@example.org", "Hallo", "Text")
        mail = server.wait_for(1)
    assert mail.login == "mailer"
    assert [(a.mechanism, a.login, a.success) for a in server.auth_attempts] == [(mechanism, "mailer", True)]


def test_wrong_credentials_raise_without_the_password():
    password = "falsches-Geheimnis-4711"
    with SmtpTestServer(credentials=("mailer", "right")) as server:
        m = mailer(server, user="mailer", password=password)
        with pytest.raises(MailError) as info:
            m.send("a@example.org", "Hallo", "Text")
    error = info.value
    assert error.code == 535 and error.permanent
    assert "login" in str(error) and password not in str(error) and password not in repr(m)
    assert error.__cause__ is None and error.__suppress_context__
    assert server.messages == []
    assert server.auth_attempts and not any(a.success for a in server.auth_attempts)


def test_a_server_that_requires_auth_refuses_a_mailer_without_login():
    with SmtpTestServer(credentials=("mailer", "right")) as server:
        with pytest.raises(MailError) as info:
            mailer(server).send("a@example.org", "Hallo", "Text")
    assert info.value.code == 530
    assert server.messages == []


def test_a_refused_recipient_raises(smtp):
    smtp.reject = {"gone@example.org"}
    with pytest.raises(MailError) as info:
        mailer(smtp).send("Gone@example.org", "Hallo", "Text")
    assert info.value.code == 550 and info.value.permanent
    assert "recipient was refused" in str(info.value)
    assert smtp.messages == []


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_a_dropped_connection_raises(smtp, stage):
    smtp.disconnect_at = stage
    with pytest.raises(MailError) as info:
        mailer(smtp).send("a@example.org", "Hallo", "Text")
    assert "closed the connection" in str(info.value) or "could not connect" in str(info.value)
    assert not info.value.permanent
    assert smtp.messages == []
    smtp.disconnect_at = None  # the server still serves the next connection
    mailer(smtp).send("a@example.org", "Hallo", "Text")
    assert smtp.wait_for(1).rcpt_tos == ("a@example.org",)


def test_connection_refused_fails_fast():
    started = time.perf_counter()
    with pytest.raises(MailError) as info:
        mailer(host="127.0.0.1", port=closed_port(), timeout_s=5.0).send("a@example.org", "Hallo", "Text")
    assert time.perf_counter() - started < 2.0
    assert "could not connect" in str(info.value) and info.value.code is None


def test_a_silent_server_times_out():
    with socket.socket() as listener:  # accepts connections (the backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        started = time.perf_counter()
        with pytest.raises(MailError) as info:
            mailer(host="127.0.0.1", port=listener.getsockname()[1], timeout_s=0.2).send("a@example.org", "x", "y")
    assert time.perf_counter() - started < 2.0
    assert "no answer within 0.2 s" in str(info.value)


@pytest.mark.parametrize("to", [
    "a@example.org\r\nBcc: victim@example.org",
    "a@example.org\nBcc: victim@example.org",
    "a@example.org\r",
])
def test_line_breaks_in_the_address_raise_before_connecting(smtp, to):
    with pytest.raises(ValueError, match="line breaks"):
        mailer(smtp).send(to, "Hallo", "Text")
    assert smtp.messages == []


@pytest.mark.parametrize("subject", ["Hallo\r\nBcc: victim@example.org", "Hallo\nX-Evil: 1", "Hallo\r", "Hallo\u2028Bcc: x"])
def test_line_breaks_in_the_subject_raise(smtp, subject):
    with pytest.raises(ValueError, match="line breaks"):
        mailer(smtp).send("a@example.org", subject, "Text")
    assert smtp.messages == []


@pytest.mark.parametrize("to", [
    "", "   ", "not an address", "a@example.org, b@example.org", "a@example.org; b@example.org",
    "friends: a@example.org;", "@example.org", "a@", "<>",
])
def test_the_recipient_must_be_one_address(to):
    with pytest.raises(ValueError):
        mailer().send(to, "Hallo", "Text")


def test_parse_address_keeps_the_display_name():
    address = parse_address('"Müller, Jürgen" <j.mueller@example.org>')
    assert (address.display_name, address.addr_spec) == ("Müller, Jürgen", "j.mueller@example.org")


def test_without_smtp_host_the_mail_is_logged(caplog):
    settings = Settings(smtp_host="", mail_from=SENDER)
    m = Mailer.from_settings(settings)
    assert not m.sends and m.target == "log only"
    with caplog.at_level(logging.INFO, logger="ty.mail"):
        m.send("juergen@example.org", "Passwort zurücksetzen", TEXT)
    [record] = [r for r in caplog.records if r.name == "ty.mail"]
    assert record.levelno == logging.INFO
    logged = record.getMessage()
    assert "TY_SMTP_HOST" in logged and "juergen@example.org" in logged and "Passwort zurücksetzen" in logged
    assert TEXT in logged  # the whole text: the developer follows the link from the log


def test_without_smtp_host_nothing_is_sent(smtp, caplog):
    m = Mailer.from_settings(Settings(smtp_host=None, smtp_port=smtp.port, smtp_security="none"))
    with caplog.at_level(logging.INFO, logger="ty.mail"):
        m.send("a@example.org", "Hallo", "Text")
    with pytest.raises(TimeoutError):
        smtp.wait_for(1, timeout=0.05)


def test_from_settings_sends_with_the_settings(smtp):
    settings = Settings(smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none", smtp_timeout_s=3,
                        mail_from="Team <team@mail.talent.yoga>")
    m = Mailer.from_settings(settings)
    assert m.sends and m.target == f"smtp://127.0.0.1:{smtp.port}" and m.timeout_s == 3
    m.send("a@example.org", "Hallo", "Text")
    mail = smtp.wait_for(1)
    assert mail.mail_from == "team@mail.talent.yoga"
    assert mail.message["Message-ID"].endswith("@mail.talent.yoga>")


@pytest.mark.parametrize("options, match", [
    ({"sender": "not an address"}, "TY_MAIL_FROM"),
    ({"security": "ssl"}, "TY_SMTP_SECURITY"),
    ({"host": "smtp.example.org", "user": "mailer"}, "TY_SMTP_PASSWORD"),
    ({"timeout_s": 0}, "TY_SMTP_TIMEOUT_S"),
    ({"host": "smtp.example.org", "user": "mailer", "password": "Pässwort"}, "ASCII"),
])
def test_bad_configuration_is_refused(options, match):
    with pytest.raises(ValueError, match=match):
        mailer(**options)


def test_starttls_with_auth(certificate):
    with SmtpTestServer(security="starttls", certificate=certificate, credentials=("mailer", "pw")) as server:
        m = mailer(server, security="starttls", user="mailer", password="pw", ssl_context=client_context(certificate))
        m.send("a@example.org", "Hallo über TLS", "Text")
        mail = server.wait_for(1)
    assert mail.login == "mailer" and mail.message["Subject"] == "Hallo über TLS"


def test_starttls_refuses_a_server_without_it(smtp):
    with pytest.raises(MailError, match="STARTTLS"):
        mailer(smtp, security="starttls").send("a@example.org", "Hallo", "Text")
    assert smtp.messages == []


def test_starttls_checks_the_certificate(certificate):
    with SmtpTestServer(security="starttls", certificate=certificate) as server:
        with pytest.raises(MailError, match="TLS failed"):  # the default context does not trust it
            mailer(server, security="starttls").send("a@example.org", "Hallo", "Text")
    assert server.messages == []


def test_implicit_tls_with_auth(certificate):
    with SmtpTestServer(security="tls", certificate=certificate, credentials=("mailer", "pw")) as server:
        m = mailer(server, security="tls", user="mailer", password="pw", ssl_context=client_context(certificate))
        m.send("a@example.org", "Hallo", "Text")
        assert server.wait_for(1).login == "mailer"
