"""The server interceptor every Kabinet service runs: deadline, error mapping, one log line.

Servicers stay thin because of it: they raise ``DomainError`` and let database outages and bugs
propagate; this interceptor turns each into the right status, once:

- ``DomainError`` → its kind, with the rich details of ``kabinet.rpc.errors``;
- a database that can't be reached (``kabinet.db.CONNECTION_ERRORS``, asyncpg connection errors,
  a pool acquire that timed out) → ``UNAVAILABLE``, which callers may retry;
- the call running past its deadline → ``DEADLINE_EXCEEDED``;
- anything else → ``INTERNAL`` with the stack trace in the log and nothing of it in the status.

A call whose caller sent no deadline gets the server's default, so that no handler runs forever
(gRPC itself cancels a call when the deadline its caller sent passes).

Each call logs one structured line (method, status, duration, peer), never the request payload.
Its level says how much it matters: a success is INFO, except for methods whose proto declares
``idempotency_level = NO_SIDE_EFFECTS``, whose successes are DEBUG: they change nothing, and some
are asked thousands of times a second (``ValidateToken``), where a JSON line each at INFO costs
about as much of the core as the call itself. Failures a caller can cause (a ``DomainError``) are
INFO, outages and deadlines WARNING, bugs ERROR, whatever the method.
Health checks and reflection pass through untouched: probes every few seconds are not news.

The interceptor runs on every call, so its per-call path is kept lean: the wrapped handler of a
method is built once, and the guard is a plain class rather than a generator-based context
manager.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeAlias

import asyncpg
import grpc
import grpc.aio
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor_pool import DescriptorPool

from kabinet.db import CONNECTION_ERRORS
from kabinet.errors import DomainError, ErrorKind
from kabinet.rpc import deadline
from kabinet.rpc.errors import rpc_status, status_code_of

log = logging.getLogger("kabinet.rpc")

DEFAULT_TIMEOUT = 10.0
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

# Errors that mean "try again soon", not "this request is wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
)

_QUIET = {grpc.StatusCode.OK, *(status_code_of(k) for k in ErrorKind)} - {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
}
_LOUD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}

_Context = grpc.aio.ServicerContext[Any, Any]
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


def has_no_side_effects(method: str, pool: DescriptorPool) -> bool:
    """Whether the proto of ``method`` (``/package.Service/Method``) declares it free of side
    effects; False for a method ``pool`` does not know."""
    full_name = method.lstrip("/").replace("/", ".")
    try:
        descriptor = pool.FindMethodByName(full_name)
    except KeyError:
        return False
    level = descriptor.GetOptions().idempotency_level
    return level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Default deadline, error mapping and a log line for every call a server handles.

    ``descriptors`` is where the methods' proto options are looked up (the default pool, which
    every generated ``_pb2`` module registers into).
    """

    def __init__(
        self,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        exempt_prefixes: Sequence[str] = EXEMPT_PREFIXES,
        descriptors: DescriptorPool | None = None,
    ) -> None:
        self._default_timeout = default_timeout
        self._exempt = tuple(exempt_prefixes)
        self._descriptors = descriptors or descriptor_pool.Default()
        # Method → (the servicer's handler, the guarded one). gRPC asks for the handler on every
        # call; wrapping it once per method keeps that cost off the hot path.
        self._guarded: dict[str, tuple[_Handler, _Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._guarded.get(method)
        if known is None or known[0] is not handler:
            known = (handler, self._guard(method, handler))
            self._guarded[method] = known
        return known[1]

    def _guard(self, method: str, handler: _Handler) -> _Handler:
        if method.startswith(self._exempt):
            return handler
        quiet = has_no_side_effects(method, self._descriptors)
        rpc = _Method(method, self._default_timeout, logging.DEBUG if quiet else logging.INFO)
        if handler.response_streaming:
            inner = handler.stream_stream if handler.request_streaming else handler.unary_stream
            factory = (
                grpc.stream_stream_rpc_method_handler
                if handler.request_streaming
                else grpc.unary_stream_rpc_method_handler
            )
            behavior: Callable[..., Any] = _streaming(rpc, inner)
        else:
            inner = handler.stream_unary if handler.request_streaming else handler.unary_unary
            factory = (
                grpc.stream_unary_rpc_method_handler
                if handler.request_streaming
                else grpc.unary_unary_rpc_method_handler
            )
            behavior = _unary(rpc, inner)
        return factory(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _Method:
    """What the guard of every call of one method needs to know, worked out once."""

    __slots__ = ("default_timeout", "name", "success_level")

    def __init__(self, name: str, default_timeout: float, success_level: int) -> None:
        self.name = name
        self.default_timeout = default_timeout
        self.success_level = success_level


def _unary(rpc: _Method, inner: Any) -> Callable[[Any, _Context], Awaitable[Any]]:
    async def behavior(request: Any, context: _Context) -> Any:
        async with _Guard(rpc, context):
            result = inner(request, context)
            if inspect.isawaitable(result):
                result = await result
            return result

    return behavior


def _streaming(rpc: _Method, inner: Any) -> Callable[[Any, _Context], AsyncIterator[Any]]:
    # Always an async generator, whatever the servicer wrote (a generator or a coroutine that
    # calls context.write): the tracing interceptor around it iterates its result.
    async def behavior(request: Any, context: _Context) -> AsyncIterator[Any]:
        async with _Guard(rpc, context):
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result
            elif result is not None:
                for item in result:
                    yield item

    return behavior


class _Guard:
    """One call under the interceptor: its deadline, the mapping of what it raises, its log line."""

    __slots__ = ("_context", "_deadline", "_rpc", "_scope", "_started")

    def __init__(self, rpc: _Method, context: _Context) -> None:
        self._rpc = rpc
        self._context = context

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()
        caller_budget = self._context.time_remaining()
        if caller_budget is None:
            budget = self._rpc.default_timeout
            self._scope: asyncio.Timeout | None = asyncio.timeout(budget)
            await self._scope.__aenter__()
        else:
            # gRPC cancels the call itself when the caller's deadline passes: no timer needed.
            budget, self._scope = caller_budget, None
        self._deadline = deadline.enter(budget)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        context, scope = self._context, self._scope
        code, error_code, exc_info = grpc.StatusCode.OK, "", None
        try:
            deadline.leave(self._deadline)
            if scope is not None:
                try:
                    # Turns the CancelledError of an expired scope into TimeoutError.
                    await scope.__aexit__(exc_type, exc, tb)
                except TimeoutError as expired:
                    exc_type, exc, tb = TimeoutError, expired, expired.__traceback__
            if exc is None:
                code = context.code() or grpc.StatusCode.OK
                return False
            if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted by itself
                code = context.code() or grpc.StatusCode.UNKNOWN
                return False
            if isinstance(exc, asyncio.CancelledError | GeneratorExit):
                # By gRPC when the caller's deadline passed, or by the caller.
                remaining = context.time_remaining()
                late = remaining is not None and remaining <= 0
                code = grpc.StatusCode.DEADLINE_EXCEEDED if late else grpc.StatusCode.CANCELLED
                return False
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: not ours
                code = grpc.StatusCode.UNKNOWN
                return False
            if isinstance(exc, DomainError):
                err = exc
            elif isinstance(exc, TimeoutError) and scope is not None and scope.expired():
                err = DomainError(ErrorKind.DEADLINE_EXCEEDED, "request.deadline_exceeded")
            else:
                if isinstance(exc, (TimeoutError, UNAVAILABLE_ERRORS)):
                    # A pool acquire or a socket that timed out inside the handler, or a
                    # database that can't be reached.
                    err = DomainError(ErrorKind.UNAVAILABLE, "service.unavailable")
                else:
                    err = DomainError(ErrorKind.INTERNAL, "internal")
                if exc_type is not None:
                    exc_info = (exc_type, exc, tb)
            status = rpc_status(err)
            code, error_code = status.code, err.code
            await context.abort(status.code, status.details, status.trailing_metadata)
            return False  # not reached: abort raises AbortError
        finally:
            seconds = time.perf_counter() - self._started
            _log(self._rpc, context, code, error_code, exc_info, seconds)


def _log(
    rpc: _Method,
    context: _Context,
    code: grpc.StatusCode,
    error_code: str,
    exc_info: _ExcInfo | None,
    seconds: float,
) -> None:
    if code is grpc.StatusCode.OK:
        level = rpc.success_level
    elif code in _QUIET:
        level = logging.INFO
    elif code in _LOUD:
        level = logging.ERROR
    else:
        level = logging.WARNING
    if not log.isEnabledFor(level):
        return
    extra: dict[str, object] = {
        "rpc_method": rpc.name,
        "grpc_code": code.name,
        "duration_ms": round(seconds * 1000, 2),
        "peer": context.peer(),
    }
    if error_code:
        extra["error_code"] = error_code
    logged_exc: _ExcInfo | None = None
    if exc_info is not None:
        if level == logging.ERROR:
            logged_exc = exc_info  # a bug: keep the stack trace
        else:
            error = exc_info[1]
            extra["error"] = f"{type(error).__module__}.{type(error).__qualname__}"
    log.log(
        level,
        "%s %s %.1f ms",
        rpc.name,
        code.name,
        seconds * 1000,
        extra=extra,
        exc_info=logged_exc,
    )
