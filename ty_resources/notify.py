"""Alerts: one short message to a webhook, to Signal, or only to the log.

``TY_ALERT_KIND`` picks the channel:

- ``off`` (default): the message is logged (logger ``ty.alerts``, level WARNING)
  and nothing is sent;
- ``webhook``: ``POST TY_ALERT_URL`` with the JSON ``{"text": message, ...context}``
  (the shape Slack, Mattermost and most chat webhooks read ``text`` from);
- ``signal``: the Signal REST API (signal-cli-rest-api), ``POST {TY_ALERT_URL}/v2/send``
  with ``{"message": ..., "number": TY_ALERT_SIGNAL_NUMBER, "recipients": [...]}``.

Delivery retries on connection errors, timeouts, 429 and 5xx (urllib3 ``Retry``,
POST allowed, exponential backoff, ``Retry-After`` ignored so a sensor tick
stays bounded); a read timeout is retried too, so an alert may arrive twice but
is not dropped. What still fails raises :class:`AlertDeliveryError` after an
ERROR log line that carries the whole alert: callers (the sensors in
``ty_assets.alerts``) let it fail their tick, so a lost alert is visible.

Webhook URLs often hold their secret in the path; logs and errors name only
the scheme and host.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ty_resources.settings import Settings, get_settings

log = logging.getLogger("ty.alerts")

KINDS = ("off", "webhook", "signal")
MAX_MESSAGE_CHARS = 1_000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SIGNAL_SEND_PATH = "/v2/send"
MAX_CONNECT_TIMEOUT_S = 5.0  # an unreachable host fails fast; the read may take the full timeout


class NotifierConfigError(ValueError):
    """The alert settings do not fit together (named in the message)."""


class AlertDeliveryError(RuntimeError):
    """An alert that could not be delivered after the retries."""


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def redact_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


def parse_recipients(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item and item.strip()]


class Notifier:
    """One alert channel; the graph's ``NotifierResource`` builds it from the settings."""

    def __init__(
        self,
        kind: str = "off",
        *,
        url: str | None = None,
        signal_number: str | None = None,
        signal_recipients: str | Sequence[str] = (),
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
    ):
        if kind not in KINDS:
            raise NotifierConfigError(f"TY_ALERT_KIND={kind!r} is not one of {', '.join(KINDS)}")
        url = (url or "").strip() or None
        recipients = parse_recipients(signal_recipients)
        number = (signal_number or "").strip() or None
        if kind in {"webhook", "signal"}:
            if url is None:
                what = "the webhook URL" if kind == "webhook" else "the Signal REST API base URL (http://host:8080)"
                raise NotifierConfigError(f"TY_ALERT_KIND={kind} needs TY_ALERT_URL: {what}")
            if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname:
                raise NotifierConfigError(f"TY_ALERT_URL must be an http(s) URL with a host, not {redact_url(url)}")
        if kind == "signal":
            missing = [name for name, value in (("TY_ALERT_SIGNAL_NUMBER", number),
                                                ("TY_ALERT_SIGNAL_RECIPIENTS", recipients)) if not value]
            if missing:
                raise NotifierConfigError(
                    f"TY_ALERT_KIND=signal needs {' and '.join(missing)} (the sending number; recipients, "
                    "comma-separated)"
                )
        if timeout_s <= 0:
            raise NotifierConfigError(f"alert timeout must be positive, not {timeout_s}")
        if max_retries < 0 or backoff_s < 0:
            raise NotifierConfigError("alert retries and backoff must not be negative")
        self.kind = kind
        self.url = url
        self.signal_number = number
        self.signal_recipients = recipients
        self.timeout = (min(timeout_s, MAX_CONNECT_TIMEOUT_S), timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._session: requests.Session | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> "Notifier":
        s = settings or get_settings()
        options: dict[str, Any] = {
            "kind": s.alert_kind, "url": s.alert_url, "signal_number": s.alert_signal_number,
            "signal_recipients": s.alert_signal_recipients, "timeout_s": s.alert_timeout_s,
        }
        options.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**options)

    @property
    def target(self) -> str:
        """Where alerts go, safe to log."""
        if self.kind == "off" or self.url is None:
            return "log only"
        return f"{self.kind} {redact_url(self.url)}"

    def _session_for_delivery(self) -> requests.Session:
        if self._session is None:
            retry = Retry(
                total=self.max_retries,
                connect=self.max_retries,
                read=self.max_retries,
                status=self.max_retries,
                other=0,
                backoff_factor=self.backoff_s,
                backoff_max=10,
                status_forcelist=RETRY_STATUSES,
                allowed_methods=frozenset({"POST"}),
                respect_retry_after_header=False,  # a tick must stay bounded
                raise_on_status=False,  # the last answer is reported with its status
            )
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=2)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"User-Agent": "talent-yoga-data/0.1", "Content-Type": "application/json"})
            self._session = session
        return self._session

    def request_for(self, message: str, context: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body one alert is posted as."""
        assert self.url is not None
        if self.kind == "signal":
            body = {"message": message, "number": self.signal_number, "recipients": list(self.signal_recipients)}
            return self.url.rstrip("/") + SIGNAL_SEND_PATH, body
        return self.url, {**context, "text": message}

    def send(self, message: str, **context: Any) -> bool:
        """Deliver one alert; True when it was sent, False when alerts are off (then it is only logged).

        ``message`` is cut to 1,000 characters. ``context`` (job, asset, partition, ...)
        goes into the log line and, for webhooks, into the JSON next to ``text``.
        Raises :class:`AlertDeliveryError` when the channel refused it or stayed
        unreachable through the retries.
        """
        message = clip(message.strip())
        extra = {"alert_kind": self.kind, "alert_text": message,
                 **{f"alert_{key}": value for key, value in context.items()}}
        if self.kind == "off":
            log.warning("alert (TY_ALERT_KIND=off, not sent): %s", message, extra=extra)
            return False
        url, body = self.request_for(message, context)
        payload = json.dumps(body, ensure_ascii=False, default=str).encode()
        try:
            response = self._session_for_delivery().post(url, data=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            failure = f"{type(exc).__name__} after {self.max_retries} retries"
        else:
            history = getattr(getattr(response.raw, "retries", None), "history", ())
            if 200 <= response.status_code < 300:
                log.info("alert sent to %s", self.target, extra={**extra, "alert_attempts": len(history) + 1})
                return True
            failure = f"HTTP {response.status_code} {response.text[:200]!r} after {len(history) + 1} attempt(s)"
        first_line = message.splitlines()[0] if message else ""
        error = f"alert not delivered to {self.target}: {failure}; alert: {clip(first_line, 300)}"
        log.error(error, extra={**extra, "alert_error": failure})
        raise AlertDeliveryError(error)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
