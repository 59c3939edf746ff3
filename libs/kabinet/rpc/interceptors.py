"""The server interceptor every Kabinet service runs: deadline, error mapping, one log line.

Servicers stay thin because of it: they raise ``DomainError`` and let database outages and bugs
propagate; this interceptor turns each into the right status, once:

- ``DomainError`` → its kind, with the rich details of ``kabinet.rpc.errors``;
- a database that can't be reached (``kabinet.db.CONNECTION_ERRORS``, asyncpg connection errors,
  a pool acquire that timed out) → ``UNAVAILABLE``, which callers may retry;
- the call running past its deadline → ``DEADLINE_EXCEEDED``;
- anything else → ``INTERNAL`` with the stack trace in the log and nothing of it in the status.

A call whose caller sent no deadline gets the server's default, so that no handler runs forever.
Each call logs one structured line (method, status, duration, peer), never the request payload.
Health checks and reflection pass through untouched: probes every few seconds are not news.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import asyncpg
import grpc
import grpc.aio

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


@dataclass
class _Outcome:
    code: grpc.StatusCode = grpc.StatusCode.OK
    error_code: str = ""
    exc_info: _ExcInfo | None = None


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Default deadline, error mapping and a log line for every call a server handles."""

    def __init__(
        self,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        exempt_prefixes: Sequence[str] = EXEMPT_PREFIXES,
    ) -> None:
        self._default_timeout = default_timeout
        self._exempt = tuple(exempt_prefixes)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(self._exempt):
            return handler
        if handler.response_streaming:
            inner = handler.stream_stream if handler.request_streaming else handler.unary_stream
            factory = (
                grpc.stream_stream_rpc_method_handler
                if handler.request_streaming
                else grpc.unary_stream_rpc_method_handler
            )
            behavior: Callable[..., Any] = self._streaming(method, inner)
        else:
            inner = handler.stream_unary if handler.request_streaming else handler.unary_unary
            factory = (
                grpc.stream_unary_rpc_method_handler
                if handler.request_streaming
                else grpc.unary_unary_rpc_method_handler
            )
            behavior = self._unary(method, inner)
        return factory(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary(self, method: str, inner: Any) -> Callable[[Any, _Context], Awaitable[Any]]:
        async def behavior(request: Any, context: _Context) -> Any:
            async with self._guard(method, context):
                result = inner(request, context)
                if inspect.isawaitable(result):
                    result = await result
                return result

        return behavior

    def _streaming(self, method: str, inner: Any) -> Callable[[Any, _Context], AsyncIterator[Any]]:
        # Always an async generator, whatever the servicer wrote (a generator or a coroutine
        # that calls context.write): the tracing interceptor around it iterates its result.
        async def behavior(request: Any, context: _Context) -> AsyncIterator[Any]:
            async with self._guard(method, context):
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

    @asynccontextmanager
    async def _guard(self, method: str, context: _Context) -> AsyncIterator[None]:
        started = time.perf_counter()
        caller_budget = context.time_remaining()
        budget = self._default_timeout if caller_budget is None else caller_budget
        outcome = _Outcome()
        scope: asyncio.Timeout | None = None
        try:
            with deadline.serving_until(budget):
                async with asyncio.timeout(budget) as scope:
                    yield
        except grpc.aio.AbortError:
            if not outcome.error_code:  # the servicer aborted by itself
                outcome.code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except (asyncio.CancelledError, GeneratorExit):
            outcome.code = grpc.StatusCode.CANCELLED
            raise
        except DomainError as err:
            await self._abort(context, outcome, err)
        except TimeoutError:
            if scope is not None and scope.expired():
                late = DomainError(ErrorKind.DEADLINE_EXCEEDED, "request.deadline_exceeded")
                await self._abort(context, outcome, late)
            else:
                # A pool acquire or a socket that timed out inside the handler.
                await self._abort(context, outcome, _unavailable(), keep_exception=True)
        except UNAVAILABLE_ERRORS:
            await self._abort(context, outcome, _unavailable(), keep_exception=True)
        except Exception:
            bug = DomainError(ErrorKind.INTERNAL, "internal")
            await self._abort(context, outcome, bug, keep_exception=True)
        else:
            outcome.code = context.code() or grpc.StatusCode.OK
        finally:
            self._log(method, context, outcome, time.perf_counter() - started)

    async def _abort(
        self,
        context: _Context,
        outcome: _Outcome,
        err: DomainError,
        *,
        keep_exception: bool = False,
    ) -> None:
        """End the call with ``err``'s status; remember the exception being handled for the log."""
        if keep_exception:
            exc_type, exc, tb = sys.exc_info()
            if exc_type is not None and exc is not None:
                outcome.exc_info = (exc_type, exc, tb)
        status = rpc_status(err)
        outcome.code = status.code
        outcome.error_code = err.code
        await context.abort(status.code, status.details, status.trailing_metadata)

    def _log(self, method: str, context: _Context, outcome: _Outcome, seconds: float) -> None:
        code = outcome.code
        if code in _QUIET:
            level = logging.INFO
        elif code in _LOUD:
            level = logging.ERROR
        else:
            level = logging.WARNING
        exc_info: _ExcInfo | None = None
        extra: dict[str, object] = {
            "rpc_method": method,
            "grpc_code": code.name,
            "duration_ms": round(seconds * 1000, 2),
            "peer": context.peer(),
        }
        if outcome.error_code:
            extra["error_code"] = outcome.error_code
        if outcome.exc_info is not None:
            if level == logging.ERROR:
                exc_info = outcome.exc_info  # a bug: keep the stack trace
            else:
                error = outcome.exc_info[1]
                extra["error"] = f"{type(error).__module__}.{type(error).__qualname__}"
        log.log(
            level,
            "%s %s %.1f ms",
            method,
            code.name,
            seconds * 1000,
            extra=extra,
            exc_info=exc_info,
        )


def _unavailable() -> DomainError:
    return DomainError(ErrorKind.UNAVAILABLE, "service.unavailable")
