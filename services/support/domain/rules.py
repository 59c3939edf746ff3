"""The ticket rules, as pure functions: the status machine, reopening, priority and SLA, and the
checks on what a person types and uploads."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kabinet.errors import Violation
from support.domain import errors
from support.domain.model import CheckedUpload, Priority, Status, Topic, Upload
from support.domain.sniffing import sniff

# Where an agent may move a ticket. Reopening (resolved/closed → in progress) is the owner's,
# within the reopen window, and goes through ``check_reopen``.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_FOR_CUSTOMER, Status.RESOLVED}),
    Status.WAITING_FOR_CUSTOMER: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
}

PRIORITY_FEATURE = "priority_support"

MAX_SUBJECT = 200
MAX_SHORT_FIELD = 200
MAX_TEXT = 20_000
MAX_COMMENT = 2_000
MAX_FILENAME = 200


@dataclass(frozen=True)
class SupportRules:
    """The configurable numbers: SLA per priority, reopen window, attachment limits."""

    sla_high: timedelta = timedelta(hours=4)
    sla_normal: timedelta = timedelta(hours=24)
    reopen_window: timedelta = timedelta(days=14)
    max_attachment_bytes: int = 1_048_576
    max_attachments: int = 3


def check_transition(current: Status, wanted: Status) -> None:
    """An agent's status change; ``ticket.transition_invalid`` when the machine forbids it."""
    if wanted not in TRANSITIONS[current]:
        raise errors.transition_invalid(current.value, wanted.value)


def check_reopen(
    current: Status, resolved_at: datetime | None, now: datetime, rules: SupportRules
) -> None:
    """The owner may reopen a resolved or closed ticket within the window after resolution."""
    if current.is_open:
        raise errors.transition_invalid(current.value, Status.IN_PROGRESS.value)
    if resolved_at is None or now - resolved_at > rules.reopen_window:
        raise errors.reopen_expired(rules.reopen_window.days)


def status_after_customer_reply(current: Status) -> Status:
    """A reply from the owner puts a ticket waiting for them back to work; a resolved or closed
    ticket takes no replies (it must be reopened)."""
    if not current.is_open:
        raise errors.ticket_closed()
    return Status.IN_PROGRESS if current is Status.WAITING_FOR_CUSTOMER else current


def status_after_agent_reply(current: Status) -> Status:
    """An agent's first public reply starts the work on a new ticket."""
    if not current.is_open:
        raise errors.ticket_closed()
    return Status.IN_PROGRESS if current is Status.NEW else current


def priority_for(has_priority_support: bool) -> Priority:
    return Priority.HIGH if has_priority_support else Priority.NORMAL


def sla_due(created_at: datetime, priority: Priority, rules: SupportRules) -> datetime:
    """When the first answer is due: counted from the ticket's creation."""
    return created_at + (rules.sla_high if priority is Priority.HIGH else rules.sla_normal)


def queue_key(
    priority: Priority, sla_due_at: datetime, created_at: datetime
) -> tuple[int, datetime, datetime]:
    """The queue's order: priority, then SLA due time, then age."""
    return (priority.rank, sla_due_at, created_at)


def check_rating(status: Status, already: int | None, rating: int, comment: str) -> str:
    """The comment to store; a rating is 1-5, given once, after resolution."""
    if status not in (Status.RESOLVED, Status.CLOSED):
        raise errors.rating_not_allowed()
    if already is not None:
        raise errors.already_rated()
    if not 1 <= rating <= 5:
        raise errors.rating_invalid()
    text = _clean_text(comment)
    if text is None or len(text) > MAX_COMMENT:
        raise errors.rating_invalid()
    return text


def _has_bad_characters(text: str, *, multiline: bool) -> bool:
    for c in text:
        if c in "\r\n":
            if not multiline:
                return True
            continue
        if c == "\t":
            continue
        category = unicodedata.category(c)
        # Control, surrogate, and format characters (bidi overrides, zero-width) are refused.
        if category in ("Cc", "Cs", "Co") or (category == "Cf" and c != "\u200d"):
            return True
    return False


def _clean_text(text: str) -> str | None:
    """A multi-line text, normalised; None when it holds characters no one types."""
    if _has_bad_characters(text, multiline=True):
        return None
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()


@dataclass(frozen=True)
class TicketForm:
    topic: Topic
    application: str
    device: str
    subject: str
    description: str


def check_ticket_form(
    topic: str, application: str, device: str, subject: str, description: str
) -> TicketForm:
    """Every field checked at once; ``ticket.invalid`` lists each broken rule by field. The
    subject is one line: CR or LF in it is refused (it goes into mail headers)."""
    violations: list[Violation] = []
    try:
        parsed_topic = Topic(topic.strip().lower())
    except ValueError:
        parsed_topic = Topic.OTHER
        violations.append(Violation(errors.TOPIC_INVALID, "topic"))
    short: dict[str, str] = {}
    for name, value, limit, required in (
        ("application", application, MAX_SHORT_FIELD, False),
        ("device", device, MAX_SHORT_FIELD, False),
        ("subject", subject, MAX_SUBJECT, True),
    ):
        if _has_bad_characters(value, multiline=False):
            code = errors.SUBJECT_INVALID if name == "subject" else errors.TEXT_INVALID
            violations.append(Violation(code, name))
            continue
        text = unicodedata.normalize("NFC", value).strip()
        if len(text) > limit:
            violations.append(Violation(errors.FIELD_TOO_LONG, name, {"limit": str(limit)}))
        elif required and not text:
            violations.append(Violation(errors.TEXT_REQUIRED, name))
        short[name] = text
    body = check_body(description, violations, "description")
    if violations:
        raise errors.invalid_ticket(violations)
    return TicketForm(parsed_topic, short["application"], short["device"], short["subject"], body)


def check_body(text: str, violations: list[Violation] | None = None, field: str = "body") -> str:
    """A message body: required, at most ``MAX_TEXT`` characters, no control characters."""
    found: list[Violation] = [] if violations is None else violations
    before = len(found)
    cleaned = _clean_text(text)
    if cleaned is None:
        found.append(Violation(errors.TEXT_INVALID, field))
    elif not cleaned:
        found.append(Violation(errors.TEXT_REQUIRED, field))
    elif len(cleaned) > MAX_TEXT:
        found.append(Violation(errors.FIELD_TOO_LONG, field, {"limit": str(MAX_TEXT)}))
    if violations is None and len(found) > before:
        raise errors.invalid_ticket(found)
    return cleaned or ""


def safe_filename(name: str) -> str:
    """The last path segment of an uploaded name, without control or quoting characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        c
        for c in unicodedata.normalize("NFC", base)
        if unicodedata.category(c)[0] != "C" and c not in '"<>:*?|;'
    ).strip(" .")
    return kept[:MAX_FILENAME] or "attachment"


def check_uploads(uploads: Sequence[Upload], rules: SupportRules) -> list[CheckedUpload]:
    """Count, size and type of each attachment, the type by its bytes (never by its name)."""
    if len(uploads) > rules.max_attachments:
        raise errors.too_many_attachments(rules.max_attachments)
    checked: list[CheckedUpload] = []
    for upload in uploads:
        if len(upload.data) > rules.max_attachment_bytes:
            raise errors.attachment_too_large(rules.max_attachment_bytes)
        content_type = sniff(upload.data)
        filename = safe_filename(upload.filename)
        if content_type is None:
            raise errors.attachment_type_not_allowed(filename)
        checked.append(CheckedUpload(filename, content_type, upload.data))
    return checked
