"""The e-mails of the account lifecycle, in German: verify the address, someone registered with yours, reset the
password, the password was changed, logins to your account are being slowed down.

They are handed to a small pool of mail threads (:func:`send_later`) and sent beside the response: an answer
takes as long whether or not a mail went out, an SMTP server that hangs holds no request, and a mail queued by a
request that then fails (the notice of a failed login answered 401) still goes out, which a FastAPI background
task would not do. A failed send is logged, never shown to the client. Links point at ``TY_PUBLIC_URL``.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote

from ty_resources.mail import Mailer, MailError
from ty_resources.settings import Settings

log = logging.getLogger("ty.web.mail")

SIGNATURE = "\n\nViele Grüße\nIhr talent.yoga-Team\n\nDiese E-Mail wurde automatisch versandt."


def _link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}{path}?token={quote(token)}"


def _send(mailer: Mailer, to: str, subject: str, text: str) -> None:
    try:
        mailer.send(to, subject, text + SIGNATURE)
    except MailError as exc:
        log.error("an account e-mail was not sent", extra={"subject": subject, "error": str(exc)[:300]})


# Two threads: mails are few (every request that sends one is rate-limited per address and per recipient).
_senders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ty-mail")


def send_later(mailer: Mailer, to: str, subject: str, text: str) -> Future[None]:
    """Send in a mail thread; the future is for tests (the API never waits on it)."""
    return _senders.submit(_send, mailer, to, subject, text)


def verification(settings: Settings, token: str) -> tuple[str, str]:
    hours = round(settings.verify_token_hours)
    return "Bitte bestätigen Sie Ihre E-Mail-Adresse", (
        "Guten Tag,\n\nmit dieser E-Mail-Adresse wurde ein Konto bei talent.yoga angelegt. Bitte bestätigen Sie "
        f"die Adresse innerhalb von {hours} Stunden mit diesem Link und dem Passwort, das Sie gewählt haben:\n\n"
        f"{_link(settings, '/verify-email', token)}\n\n"
        "Das waren nicht Sie? Dann müssen Sie nichts tun: ein nicht bestätigtes Konto wird nach "
        f"{round(settings.unverified_account_days)} Tagen gelöscht. Kennen Sie das Passwort nicht, obwohl Sie "
        "sich registriert haben, setzen Sie es über „Passwort vergessen“ neu."
    )


def already_registered(settings: Settings) -> tuple[str, str]:
    return "Sie haben bereits ein Konto bei talent.yoga", (
        "Guten Tag,\n\njemand hat versucht, mit dieser E-Mail-Adresse ein neues Konto anzulegen. Sie haben "
        "bereits eines: melden Sie sich an, oder setzen Sie Ihr Passwort neu, falls Sie es vergessen haben:\n\n"
        f"{settings.public_url.rstrip('/')}/reset-password\n\n"
        "Das waren nicht Sie? Dann müssen Sie nichts tun; an Ihrem Konto hat sich nichts geändert."
    )


def password_reset(settings: Settings, token: str) -> tuple[str, str]:
    minutes = round(settings.reset_token_minutes)
    return "Ihr Passwort bei talent.yoga neu setzen", (
        "Guten Tag,\n\nfür Ihr Konto wurde ein neues Passwort angefordert. Mit diesem Link setzen Sie es neu; er "
        f"gilt {minutes} Minuten und nur einmal:\n\n{_link(settings, '/reset-password', token)}\n\n"
        "Alle Anmeldungen auf anderen Geräten enden dann. Das waren nicht Sie? Dann ignorieren Sie diese "
        "E-Mail: Ihr Passwort bleibt, wie es ist."
    )


def password_changed() -> tuple[str, str]:
    return "Ihr Passwort bei talent.yoga wurde geändert", (
        "Guten Tag,\n\ndas Passwort Ihres Kontos wurde soeben geändert, und Anmeldungen auf anderen Geräten "
        "wurden beendet. Das waren nicht Sie? Dann setzen Sie Ihr Passwort sofort über „Passwort vergessen“ neu."
    )


def logins_slowed(failures: int) -> tuple[str, str]:
    return "Fehlgeschlagene Anmeldungen bei Ihrem Konto", (
        f"Guten Tag,\n\nbei Ihrem Konto sind in kurzer Zeit {failures} Anmeldungen mit falschem Passwort "
        "fehlgeschlagen. Weitere Versuche von anderen Geräten werden deshalb verzögert; auf Geräten, mit denen "
        "Sie sich schon angemeldet haben, melden Sie sich wie gewohnt an.\n\n"
        "Das waren nicht Sie? Ihr Konto ist geschützt, solange Ihr Passwort nur Ihnen bekannt ist. Verwenden Sie "
        "es auch anderswo, ändern Sie es bitte."
    )
