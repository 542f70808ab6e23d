"""Webhooks on the wire: the HMAC-SHA256 signature both directions use, the change-ticket
payloads ServiceNow and Jira send, which URLs may be called, and one HTTP delivery.

Signature: `X-Clearance-Signature: sha256=HEX`, the HMAC-SHA256 with the shared secret of
`TIMESTAMP + "." + BODY` (the raw body bytes), where TIMESTAMP is `X-Clearance-Timestamp`
in Unix seconds. `X-Clearance-Delivery` names the delivery (the event id outbound).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from clearance.errors import AuthenticationError, ConflictError, UsageError

TIMESTAMP = "X-Clearance-Timestamp"
SIGNATURE = "X-Clearance-Signature"
DELIVERY = "X-Clearance-Delivery"
EVENT = "X-Clearance-Event"
#: how far ahead of our clock a sender's timestamp may be (clock skew)
FUTURE_SKEW = 30.0

#: ServiceNow change_request `state` choice values (Table API without display values)
SERVICENOW_STATES = {
    "-5": "New",
    "-4": "Assess",
    "-3": "Authorize",
    "-2": "Scheduled",
    "-1": "Implement",
    "0": "Review",
    "3": "Closed",
    "4": "Canceled",
}
APPROVED = frozenset({"approved"})
REJECTED = frozenset({"rejected", "declined", "canceled", "cancelled"})
JIRA_EVENTS = frozenset({"jira:issue_updated", "jira:issue_created"})
SOURCES = ("servicenow", "jira")


def _mac(secret: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Clearance-Signature` value for `body` sent at `timestamp`."""
    return "sha256=" + _mac(secret, timestamp, body).hex()


def _matches(given: str, mac: bytes) -> bool:
    """Whether `given` is `sha256=` and the MAC in hex, or in base64 (what ServiceNow's
    GlideCertificateEncryption.generateMac returns); both compared in constant time."""
    import base64

    as_hex = hmac.compare_digest(given.encode(), ("sha256=" + mac.hex()).encode())
    as_b64 = hmac.compare_digest(given.encode(), b"sha256=" + base64.b64encode(mac))
    return as_hex | as_b64


def signed_headers(secret: str, body: bytes, timestamp: int, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP: str(timestamp),
        SIGNATURE: sign(secret, timestamp, body),
        DELIVERY: delivery,
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: float
) -> tuple[int, str]:
    """(timestamp, delivery id) of a request whose signature verifies and whose timestamp is
    within `window` seconds before now; AuthenticationError saying what is wrong otherwise."""
    lower = {k.lower(): v for k, v in headers.items()}
    text = lower.get(TIMESTAMP.lower(), "").strip()
    given = lower.get(SIGNATURE.lower(), "").strip()
    delivery = lower.get(DELIVERY.lower(), "").strip()
    if not text or not given or not delivery:
        pairs = ((TIMESTAMP, text), (SIGNATURE, given), (DELIVERY, delivery))
        missing = ", ".join(name for name, value in pairs if not value)
        raise AuthenticationError(
            f"the webhook is not signed: send {missing} (see docs/webhooks.md)"
        )
    if not text.isdigit() or len(text) > 12:
        raise AuthenticationError(f"{TIMESTAMP} must be Unix seconds, not {text[:20]!r}")
    if len(delivery) > 200 or not delivery.isprintable():
        raise AuthenticationError(f"{DELIVERY} must be at most 200 printable characters")
    timestamp = int(text)
    # The signature is checked before the time, so an unsigned caller learns nothing more.
    if not _matches(given, _mac(secret, timestamp, body)):
        raise AuthenticationError(
            f"the webhook's {SIGNATURE} does not verify: sign TIMESTAMP.BODY with HMAC-SHA256 "
            "and the shared secret (CLEARANCE_HOOK_SECRET)"
        )
    if timestamp < now - window:
        raise AuthenticationError(
            f"the webhook was signed {int(now - timestamp)} s ago, outside the {int(window)} s "
            "replay window; send a fresh delivery"
        )
    if timestamp > now + FUTURE_SKEW:
        raise AuthenticationError(
            f"the webhook's timestamp is {int(timestamp - now)} s in the future; check the "
            "sender's clock"
        )
    return timestamp, delivery


@dataclass(frozen=True)
class TicketReport:
    """What a change system says about one ticket: its id, state, and what that means."""

    ticket: str
    state: str
    decision: str  # approved | rejected | pending


def parse_change(source: str, payload: Any) -> TicketReport | None:
    """The ticket report in a ServiceNow or Jira payload; None for a Jira event that does
    not report an issue's state (a comment, a worklog); UsageError for a malformed one."""
    if source == "servicenow":
        return _servicenow(payload)
    if source == "jira":
        return _jira(payload)
    raise UsageError(f"no change system {source!r}; use one of {', '.join(SOURCES)}")


def _servicenow(payload: Any) -> TicketReport:
    record = payload.get("result", payload) if isinstance(payload, Mapping) else payload
    if not isinstance(record, Mapping):
        raise UsageError("a ServiceNow payload is a change_request record (Table API JSON)")
    number = _value(record.get("number"), display=True)
    if not number:
        raise UsageError("the ServiceNow change_request has no `number` (e.g. CHG0030001)")
    state = _value(record.get("state"), display=True)
    state = SERVICENOW_STATES.get(state, state)
    approval = _value(record.get("approval"), display=False).casefold()
    if not state and not approval:
        raise UsageError(f"the ServiceNow change_request {number} has no `state` or `approval`")
    if approval in APPROVED:
        decision = "approved"
    elif approval in REJECTED or state.casefold() in REJECTED:
        decision = "rejected"
    else:
        decision = "pending"
    return TicketReport(number, state or approval, decision)


def _value(field: Any, *, display: bool) -> str:
    """A Table API field: a plain value, or `{"value", "display_value"}` with
    sysparm_display_value=all (the display value for names, the value for choices)."""
    if isinstance(field, Mapping):
        order = ("display_value", "value") if display else ("value", "display_value")
        field = next((field[k] for k in order if field.get(k) not in (None, "")), "")
    return str(field).strip() if isinstance(field, str | int) else ""


def _jira(payload: Any) -> TicketReport | None:
    if not isinstance(payload, Mapping):
        raise UsageError("a Jira payload is the JSON of a Jira webhook event")
    event = payload.get("webhookEvent")
    if event not in JIRA_EVENTS:
        return None
    issue = payload.get("issue")
    key = issue.get("key") if isinstance(issue, Mapping) else None
    fields = issue.get("fields") if isinstance(issue, Mapping) else None
    status = fields.get("status") if isinstance(fields, Mapping) else None
    name = status.get("name") if isinstance(status, Mapping) else None
    if not isinstance(key, str) or not key.strip():
        raise UsageError("the Jira issue event has no issue.key")
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"the Jira issue event for {key} has no issue.fields.status.name")
    name = name.strip()
    folded = name.casefold()
    decision = "approved" if folded in APPROVED else "rejected" if folded in REJECTED else "pending"
    return TicketReport(key.strip(), name, decision)


def status_change(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(from, to) of a Jira changelog's status item, for the audit record."""
    changelog = payload.get("changelog")
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    for entry in items if isinstance(items, list) else []:
        if isinstance(entry, Mapping) and entry.get("field") == "status":
            return str(entry.get("fromString") or ""), str(entry.get("toString") or "")
    return None


# -- outbound --------------------------------------------------------------------------------


def check_url(url: str, allowed_hosts: tuple[str, ...]) -> str:
    """`url` if Clearance may call it: http(s) to a loopback address, or to a host (or
    host:port) listed in CLEARANCE_WEBHOOK_HOSTS; UsageError otherwise."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise UsageError(f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise UsageError("a webhook URL carries no user or password; use --secret-env")
    if _loopback(host):
        return url
    if host in allowed_hosts or (port is not None and f"{host}:{port}" in allowed_hosts):
        return url
    raise UsageError(
        f"{host} is not a host webhooks may call: only loopback addresses and the hosts in "
        "CLEARANCE_WEBHOOK_HOSTS (comma-separated host or host:port) are called"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int | None, str]:
    """POST once, never following redirects: (status code, error text, "" when 2xx)."""
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as http:
            answer = http.post(url, content=body, headers=dict(headers))
    except httpx.TimeoutException:
        return None, f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= answer.status_code < 300:
        return answer.status_code, ""
    return answer.status_code, f"HTTP {answer.status_code}: {answer.text[:200]}"


def refuse_replay(found: bool, delivery: str) -> None:
    if found:
        raise ConflictError(
            f"delivery {delivery!r} was received already; a replayed delivery records nothing"
        )
