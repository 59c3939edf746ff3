"""The stable codes identity answers with (their messages: ``kabinet.catalog.identity``).

Codes that could tell whether an email has an account are never raised on the paths that must not
tell: registration, resending activation and forgotten passwords answer the same either way, and
sign-in answers ``auth.invalid_credentials`` for an unknown email, a wrong password and a locked
account alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from kabinet.errors import DomainError, ErrorKind, Violation

__all__ = ["DomainError", "ErrorKind", "Violation"]

EMAIL_INVALID = "email.invalid"
PASSWORD_INVALID = "password.invalid"  # noqa: S105 (an error code)
INVALID_CREDENTIALS = "auth.invalid_credentials"
TOO_MANY_ATTEMPTS = "auth.too_many_attempts"
REFRESH_INVALID = "auth.refresh_invalid"
NOT_ACTIVATED = "account.not_activated"
ACCOUNT_NOT_FOUND = "account.not_found"
WRONG_PASSWORD = "account.wrong_password"  # noqa: S105
NO_PASSWORD = "account.no_password"  # noqa: S105
SESSION_NOT_FOUND = "session.not_found"
SAME_EMAIL = "email_change.same_address"
NAME_INVALID = "profile.name_invalid"
LANGUAGE_INVALID = "profile.language_invalid"
COUNTRY_INVALID = "profile.country_invalid"
TOO_MANY_SESSION_IDS = "sessions.too_many_ids"

# One code per kind of link, so each page can say what to do next; expired, spent, tampered and
# unknown links of a kind all get the same one.
ACTIVATION_LINK_INVALID = "activation.link_invalid"
PASSWORD_SETUP_LINK_INVALID = "password_setup.link_invalid"  # noqa: S105
PASSWORD_RESET_LINK_INVALID = "password_reset.link_invalid"  # noqa: S105
EMAIL_CHANGE_LINK_INVALID = "email_change.link_invalid"

# Every code this service raises besides token.invalid and the password rules (the catalog test
# checks that each has its messages).
CODES = (
    EMAIL_INVALID,
    INVALID_CREDENTIALS,
    TOO_MANY_ATTEMPTS,
    REFRESH_INVALID,
    NOT_ACTIVATED,
    ACCOUNT_NOT_FOUND,
    WRONG_PASSWORD,
    NO_PASSWORD,
    SESSION_NOT_FOUND,
    SAME_EMAIL,
    NAME_INVALID,
    LANGUAGE_INVALID,
    COUNTRY_INVALID,
    TOO_MANY_SESSION_IDS,
    ACTIVATION_LINK_INVALID,
    PASSWORD_SETUP_LINK_INVALID,
    PASSWORD_RESET_LINK_INVALID,
    EMAIL_CHANGE_LINK_INVALID,
)


def email_invalid() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, EMAIL_INVALID)


def password_invalid(violations: Sequence[Violation]) -> DomainError:
    """A new password breaks rules: each one travels as its own violation."""
    return DomainError(ErrorKind.INVALID_ARGUMENT, PASSWORD_INVALID, violations=violations)


def invalid_credentials() -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, INVALID_CREDENTIALS)


def too_many_attempts(retry_after: int) -> DomainError:
    return DomainError(
        ErrorKind.RESOURCE_EXHAUSTED, TOO_MANY_ATTEMPTS, params={"retry_after": str(retry_after)}
    )


def refresh_invalid() -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, REFRESH_INVALID)


def not_activated() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, NOT_ACTIVATED)


def account_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, ACCOUNT_NOT_FOUND)


def wrong_password() -> DomainError:
    return DomainError(ErrorKind.PERMISSION_DENIED, WRONG_PASSWORD)


def no_password() -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, NO_PASSWORD)


def session_not_found() -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, SESSION_NOT_FOUND)


def same_email() -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, SAME_EMAIL)


def invalid(code: str) -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, code)
