"""The one error hierarchy of Kabinet.

A use case raises ``DomainError(kind, code)``. ``kind`` mirrors a gRPC status code and decides the
transport status; ``code`` is the stable, machine-readable reason (``password.no_digit``) that the
portal and other clients branch on, and the key of the human message in ``kabinet.messages``.
The gRPC layer maps errors to statuses once (``kabinet.rpc.errors``); the gateway maps statuses
to problem+json once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    """What went wrong, in the terms of gRPC status codes."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class Violation:
    """One broken rule inside an INVALID_ARGUMENT error (e.g. each failed password rule)."""

    code: str
    field: str = ""
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)


class DomainError(Exception):
    """An expected failure of a use case, safe to show to the caller."""

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        *,
        params: Mapping[str, str] | None = None,
        violations: Sequence[Violation] = (),
    ) -> None:
        super().__init__(code)
        self.kind = kind
        self.code = code
        self.params = dict(params or {})
        self.violations = tuple(violations)

    def __repr__(self) -> str:
        return f"DomainError({self.kind}, {self.code!r})"


def invalid(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.INVALID_ARGUMENT, code, params=params)


def not_found(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, code, params=params)


def already_exists(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.ALREADY_EXISTS, code, params=params)


def precondition(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.FAILED_PRECONDITION, code, params=params)


def denied(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.PERMISSION_DENIED, code, params=params)


def unauthenticated(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, code, params=params)


def exhausted(code: str, **params: str) -> DomainError:
    return DomainError(ErrorKind.RESOURCE_EXHAUSTED, code, params=params)


def unavailable(code: str = "service.unavailable", **params: str) -> DomainError:
    return DomainError(ErrorKind.UNAVAILABLE, code, params=params)
