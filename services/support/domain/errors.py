"""The stable codes the support service answers with (messages: ``kabinet.catalog.support``)."""

from __future__ import annotations

from kabinet.errors import DomainError, ErrorKind, Violation

TICKET_NOT_FOUND = "ticket.not_found"
ATTACHMENT_NOT_FOUND = "attachment.not_found"
AGENT_ONLY = "support.agent_only"
OWNER_ONLY = "support.owner_only"
TICKET_INVALID = "ticket.invalid"
TOPIC_INVALID = "ticket.topic_invalid"
SUBJECT_INVALID = "ticket.subject_invalid"
FIELD_TOO_LONG = "ticket.field_too_long"
TEXT_REQUIRED = "ticket.text_required"
TEXT_INVALID = "ticket.text_invalid"
ATTACHMENT_TOO_LARGE = "attachment.too_large"
ATTACHMENT_TYPE = "attachment.type_not_allowed"
ATTACHMENTS_TOO_MANY = "attachment.too_many"
TRANSITION_INVALID = "ticket.transition_invalid"
TICKET_CLOSED = "ticket.closed"
REOPEN_EXPIRED = "ticket.reopen_expired"
RATING_INVALID = "ticket.rating_invalid"
RATING_NOT_ALLOWED = "ticket.rating_not_allowed"
ALREADY_RATED = "ticket.already_rated"
ASSIGNEE_INVALID = "ticket.assignee_invalid"
CALLER_INVALID = "auth.required"

CODES = (
    TICKET_NOT_FOUND,
    ATTACHMENT_NOT_FOUND,
    AGENT_ONLY,
    OWNER_ONLY,
    TICKET_INVALID,
    TOPIC_INVALID,
    SUBJECT_INVALID,
    FIELD_TOO_LONG,
    TEXT_REQUIRED,
    TEXT_INVALID,
    ATTACHMENT_TOO_LARGE,
    ATTACHMENT_TYPE,
    ATTACHMENTS_TOO_MANY,
    TRANSITION_INVALID,
    TICKET_CLOSED,
    REOPEN_EXPIRED,
    RATING_INVALID,
    RATING_NOT_ALLOWED,
    ALREADY_RATED,
    ASSIGNEE_INVALID,
)


def ticket_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, TICKET_NOT_FOUND)


def attachment_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, ATTACHMENT_NOT_FOUND)


def agent_only() -> DomainError:
    return DomainError(ErrorKind.PERMISSION_DENIED, AGENT_ONLY)


def owner_only() -> DomainError:
    return DomainError(ErrorKind.PERMISSION_DENIED, OWNER_ONLY)


def caller_invalid() -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, CALLER_INVALID)


def invalid_ticket(violations: list[Violation]) -> DomainError:
    """Every broken field rule at once, each with its own code."""
    return DomainError(ErrorKind.INVALID_ARGUMENT, TICKET_INVALID, violations=violations)


def attachment_too_large(limit: int) -> DomainError:
    return DomainError(
        ErrorKind.INVALID_ARGUMENT, ATTACHMENT_TOO_LARGE, params={"limit": str(limit)}
    )


def attachment_type_not_allowed(filename: str) -> DomainError:
    return DomainError(
        ErrorKind.INVALID_ARGUMENT, ATTACHMENT_TYPE, params={"filename": filename[:100]}
    )


def too_many_attachments(limit: int) -> DomainError:
    return DomainError(
        ErrorKind.INVALID_ARGUMENT, ATTACHMENTS_TOO_MANY, params={"limit": str(limit)}
    )


def transition_invalid(current: str, wanted: str) -> DomainError:
    return DomainError(
        ErrorKind.FAILED_PRECONDITION,
        TRANSITION_INVALID,
        params={"current": current, "wanted": wanted},
    )


def ticket_closed() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, TICKET_CLOSED)


def reopen_expired(days: int) -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, REOPEN_EXPIRED, params={"days": str(days)})


def rating_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, RATING_INVALID)


def rating_not_allowed() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, RATING_NOT_ALLOWED)


def already_rated() -> DomainError:
    return DomainError(ErrorKind.ALREADY_EXISTS, ALREADY_RATED)


def assignee_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, ASSIGNEE_INVALID)
