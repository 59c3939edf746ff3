"""Every error the gateway returns, as RFC 9457 problem+json with a stable ``code``.

This is the one place that turns failures into HTTP: DomainErrors (raised here or carried in a
gRPC status from a service), Litestar's own HTTP exceptions (bad JSON, 404, 405, 413) and anything
unexpected (500, logged, never a stack trace in the answer).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import grpc
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from kabinet.errors import DomainError, ErrorKind, Violation
from kabinet.messages import pick_language, translate
from kabinet.rpc.errors import domain_error_from_rpc

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.RESOURCE_EXHAUSTED: 429,
    ErrorKind.INTERNAL: 500,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.DEADLINE_EXCEEDED: 504,
}

# Codes whose HTTP status is more precise than their kind's.
CODE_STATUS: dict[str, int] = {"download.link_expired": 410}

# Litestar's own HTTP errors by status, as stable codes.
_HTTP_CODES: dict[int, str] = {
    400: "request.invalid",
    401: "auth.required",
    403: "auth.forbidden",
    404: "request.not_found",
    405: "request.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    429: "request.rate_limited",
    503: "service.unavailable",
}


def language_of(request: Request[Any, Any, Any]) -> str:
    return pick_language(request.headers.get("accept-language"))


def problem(
    request: Request[Any, Any, Any], status: int, error: DomainError
) -> Response[dict[str, Any]]:
    """The problem+json answer for ``error``."""
    language = language_of(request)
    body: dict[str, Any] = {
        "type": f"urn:kabinet:problem:{error.code}",
        "title": translate(error.code, "en", error.params),
        "status": status,
        "detail": translate(error.code, language, error.params),
        "code": error.code,
        "instance": request.url.path,
    }
    if error.violations:
        body["violations"] = [
            {"code": v.code, "field": v.field, "message": translate(v.code, language, v.params)}
            for v in error.violations
        ]
    headers = {"Content-Language": language}
    if status == 429 and "retry_after" in error.params:
        headers["Retry-After"] = error.params["retry_after"]
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_domain_error(
    request: Request[Any, Any, Any], exc: DomainError
) -> Response[dict[str, Any]]:
    return problem(request, CODE_STATUS.get(exc.code) or HTTP_STATUS.get(exc.kind, 500), exc)


def from_rpc_error(
    request: Request[Any, Any, Any], exc: grpc.aio.AioRpcError
) -> Response[dict[str, Any]]:
    error = domain_error_from_rpc(exc)
    if error.kind is ErrorKind.INTERNAL:
        log.error("service failed", extra={"path": request.url.path, "grpc_code": exc.code().name})
    return problem(request, CODE_STATUS.get(error.code) or HTTP_STATUS.get(error.kind, 500), error)


def from_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "request.invalid" if status < 500 else "internal")
    detail = str(exc.detail or "")
    if status == 400 and ("JSON" in detail or "decode" in detail.lower()):
        code = "request.malformed_json"
    violations = []
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        violations = [_field_violation(item) for item in exc.extra if isinstance(item, dict)]
    return problem(
        request, status, DomainError(ErrorKind.INVALID_ARGUMENT, code, violations=violations)
    )


_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _field_violation(item: dict[str, Any]) -> Violation:
    """Which body field a validation message is about; a missing field is named only in the
    message (its key is the whole body)."""
    key = str(item.get("key", ""))
    missing = _MISSING_FIELD.search(str(item.get("message", "")))
    if missing and key in ("", "data"):
        key = missing.group(1)
    return Violation("request.invalid_field", field=key)


def from_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(
        request, HTTP_500_INTERNAL_SERVER_ERROR, DomainError(ErrorKind.INTERNAL, "internal")
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: from_domain_error,
    grpc.aio.AioRpcError: from_rpc_error,
    HTTPException: from_http_exception,
    Exception: from_unexpected,
}
