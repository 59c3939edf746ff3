"""The one mapping between ``DomainError`` and gRPC statuses, both ways.

A server turns a ``DomainError`` into a status whose code is the error's kind and whose details
string is its stable code. The full error travels in the standard rich-error trailer
``grpc-status-details-bin``: a ``google.rpc.Status`` holding an ``ErrorInfo`` (reason = code,
domain = ``kabinet``, metadata = params) and, for rule violations, a ``BadRequest`` with one
field violation per broken rule plus one ``ErrorInfo`` per violation (domain
``kabinet.violation``, same order) that carries the violation's params. Other gRPC clients
understand the standard parts; ``domain_error_from_rpc`` rebuilds the exact ``DomainError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from kabinet.errors import DomainError, ErrorKind, Violation

DETAILS_KEY = "grpc-status-details-bin"
ERROR_DOMAIN = "kabinet"
VIOLATION_DOMAIN = "kabinet.violation"

# What a caller sees for a status that carries no Kabinet details (a transport failure, a
# deadline, a server that is not ours): a kind and a code the message catalog knows.
_BARE: dict[grpc.StatusCode, tuple[ErrorKind, str]] = {
    grpc.StatusCode.UNAVAILABLE: (ErrorKind.UNAVAILABLE, "service.unavailable"),
    grpc.StatusCode.CANCELLED: (ErrorKind.UNAVAILABLE, "service.unavailable"),
    grpc.StatusCode.ABORTED: (ErrorKind.UNAVAILABLE, "service.unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (ErrorKind.DEADLINE_EXCEEDED, "request.deadline_exceeded"),
    grpc.StatusCode.INVALID_ARGUMENT: (ErrorKind.INVALID_ARGUMENT, "request.invalid"),
    grpc.StatusCode.OUT_OF_RANGE: (ErrorKind.INVALID_ARGUMENT, "request.invalid"),
    grpc.StatusCode.FAILED_PRECONDITION: (ErrorKind.FAILED_PRECONDITION, "request.invalid"),
    grpc.StatusCode.ALREADY_EXISTS: (ErrorKind.ALREADY_EXISTS, "request.invalid"),
    grpc.StatusCode.NOT_FOUND: (ErrorKind.NOT_FOUND, "request.not_found"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (ErrorKind.RESOURCE_EXHAUSTED, "request.rate_limited"),
    grpc.StatusCode.UNAUTHENTICATED: (ErrorKind.UNAUTHENTICATED, "auth.required"),
    grpc.StatusCode.PERMISSION_DENIED: (ErrorKind.PERMISSION_DENIED, "auth.forbidden"),
}
_INTERNAL = (ErrorKind.INTERNAL, "internal")


@dataclass(frozen=True)
class RpcStatus:
    """A status ready to send: code, details string and trailing metadata."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def status_code_of(kind: ErrorKind) -> grpc.StatusCode:
    """The gRPC status code of an error kind (they share names)."""
    return grpc.StatusCode[kind.value]


def _packed(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rpc_status(err: DomainError) -> RpcStatus:
    """The status that carries ``err``: code from its kind, its code as details, rich details."""
    code = status_code_of(err.kind)
    status = status_pb2.Status(code=code.value[0], message=err.code)
    info = error_details_pb2.ErrorInfo(reason=err.code, domain=ERROR_DOMAIN, metadata=err.params)
    status.details.append(_packed(info))
    if err.violations:
        status.details.append(
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.code, reason=v.code
                        )
                        for v in err.violations
                    ]
                )
            )
        )
        for v in err.violations:
            status.details.append(
                _packed(
                    error_details_pb2.ErrorInfo(
                        reason=v.code, domain=VIOLATION_DOMAIN, metadata=v.params
                    )
                )
            )
    return RpcStatus(code, err.code, ((DETAILS_KEY, status.SerializeToString()),))


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], err: DomainError) -> NoReturn:
    """End the current call with the status of ``err`` (raises, as ``context.abort`` does)."""
    status = rpc_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("context.abort returned")  # pragma: no cover


def _details_of(err: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in err.trailing_metadata() or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except Exception:  # a peer that sends garbage gets treated as a bare status
                return None
            return status
    return None


def _unpack_details(
    status: status_pb2.Status,
) -> tuple[error_details_pb2.ErrorInfo | None, Sequence[Violation]]:
    info: error_details_pb2.ErrorInfo | None = None
    fields: list[error_details_pb2.BadRequest.FieldViolation] = []
    violation_params: list[dict[str, str]] = []
    for detail in status.details:
        candidate = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(candidate):  # False when the detail is of another type
            if candidate.domain == ERROR_DOMAIN and info is None:
                info = candidate
            elif candidate.domain == VIOLATION_DOMAIN:
                violation_params.append(dict(candidate.metadata))
        elif detail.Unpack(bad):
            fields.extend(bad.field_violations)
    violations = [
        Violation(
            code=f.reason or f.description,
            field=f.field,
            params=violation_params[i] if i < len(violation_params) else {},
        )
        for i, f in enumerate(fields)
    ]
    return info, violations


def domain_error_from_rpc(err: grpc.aio.AioRpcError) -> DomainError:
    """The ``DomainError`` a failed call stands for, for clients such as the gateway.

    A status sent by a Kabinet server gives back the original kind, code, params and violations;
    any other status (unreachable server, deadline, a foreign server) becomes a generic error of
    the matching kind with a code the message catalog knows (``service.unavailable``,
    ``request.deadline_exceeded``, ``internal``, ...).
    """
    code = err.code()
    status = _details_of(err)
    if status is not None:
        info, violations = _unpack_details(status)
        if info is not None:
            kind = ErrorKind.__members__.get(code.name, ErrorKind.INTERNAL)
            return DomainError(kind, info.reason, params=dict(info.metadata), violations=violations)
    kind, stable = _BARE.get(code, _INTERNAL)
    return DomainError(kind, stable)
