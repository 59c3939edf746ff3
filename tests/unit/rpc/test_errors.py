"""DomainError → gRPC status with rich details → DomainError, through a real server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2, status_pb2

from kabinet.devstack.ports import free_port
from kabinet.errors import DomainError, ErrorKind, Violation
from kabinet.rpc.errors import DETAILS_KEY, domain_error_from_rpc, rpc_status
from kabinet.rpc.server import RpcServer

SERVICE = "kabinet.test.v1.EchoService"
Serve = Callable[..., Awaitable[RpcServer]]


def _raising(err: DomainError):
    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise err

    return grpc.unary_unary_rpc_method_handler(handler)


async def _call_failing(serve: Serve, err: DomainError) -> grpc.aio.AioRpcError:
    server = await serve({"Get": _raising(err)})
    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(f"/{SERVICE}/Get")(b"", timeout=5)
    return caught.value


async def test_violations_and_params_survive_the_round_trip(serve: Serve) -> None:
    sent = DomainError(
        ErrorKind.INVALID_ARGUMENT,
        "password.weak",
        params={"min": "8"},
        violations=[
            Violation("password.too_short", "password", {"min": "8"}),
            Violation("password.no_digit", "password"),
            Violation("email.invalid", "email", {"hint": "имя@пример.рф"}),
        ],
    )

    failure = await _call_failing(serve, sent)
    got = domain_error_from_rpc(failure)

    assert failure.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failure.details() == "password.weak"
    assert (got.kind, got.code, got.params) == (sent.kind, sent.code, sent.params)
    assert got.violations == sent.violations


@pytest.mark.parametrize("kind", list(ErrorKind))
async def test_every_kind_becomes_the_status_code_of_the_same_name(
    serve: Serve, kind: ErrorKind
) -> None:
    failure = await _call_failing(serve, DomainError(kind, "thing.went_wrong", params={"id": "7"}))

    got = domain_error_from_rpc(failure)

    assert failure.code().name == kind.value
    assert (got.kind, got.code, got.params, got.violations) == (
        kind,
        "thing.went_wrong",
        {"id": "7"},
        (),
    )


async def test_details_follow_the_standard_rich_error_model(serve: Serve) -> None:
    failure = await _call_failing(
        serve,
        DomainError(
            ErrorKind.NOT_FOUND, "account.not_found", violations=[Violation("id.unknown", "id")]
        ),
    )

    raw = dict(failure.trailing_metadata())[DETAILS_KEY]
    status = status_pb2.Status.FromString(raw)
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert status.message == "account.not_found"
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("account.not_found", "kabinet")
    assert status.details[1].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [("id", "id.unknown")]


def _bare(code: grpc.StatusCode, trailing: tuple[tuple[str, bytes], ...] = ()) -> DomainError:
    error = grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details="whatever"
    )
    return domain_error_from_rpc(error)


@pytest.mark.parametrize(
    ("code", "kind", "stable"),
    [
        (grpc.StatusCode.UNAVAILABLE, ErrorKind.UNAVAILABLE, "service.unavailable"),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            ErrorKind.DEADLINE_EXCEEDED,
            "request.deadline_exceeded",
        ),
        (grpc.StatusCode.INTERNAL, ErrorKind.INTERNAL, "internal"),
        (grpc.StatusCode.UNKNOWN, ErrorKind.INTERNAL, "internal"),
        (grpc.StatusCode.UNIMPLEMENTED, ErrorKind.INTERNAL, "internal"),
        (grpc.StatusCode.UNAUTHENTICATED, ErrorKind.UNAUTHENTICATED, "auth.required"),
        (grpc.StatusCode.NOT_FOUND, ErrorKind.NOT_FOUND, "request.not_found"),
    ],
)
def test_a_status_without_our_details_gets_a_generic_code(
    code: grpc.StatusCode, kind: ErrorKind, stable: str
) -> None:
    got = _bare(code)

    assert (got.kind, got.code, got.params, got.violations) == (kind, stable, {}, ())


def test_garbage_or_foreign_details_are_ignored() -> None:
    foreign = status_pb2.Status(code=5, message="nope")
    foreign.details.add().Pack(error_details_pb2.ErrorInfo(reason="X", domain="example.com"))

    garbage = _bare(grpc.StatusCode.NOT_FOUND, ((DETAILS_KEY, b"\xff\xfe not a status"),))
    other = _bare(grpc.StatusCode.NOT_FOUND, ((DETAILS_KEY, foreign.SerializeToString()),))

    assert (garbage.kind, garbage.code) == (ErrorKind.NOT_FOUND, "request.not_found")
    assert (other.kind, other.code) == (ErrorKind.NOT_FOUND, "request.not_found")


def test_rpc_status_uses_the_code_as_details() -> None:
    status = rpc_status(DomainError(ErrorKind.ALREADY_EXISTS, "email.taken"))

    assert (status.code, status.details) == (grpc.StatusCode.ALREADY_EXISTS, "email.taken")
    assert [key for key, _ in status.trailing_metadata] == [DETAILS_KEY]


async def test_unreachable_and_unimplemented_calls_map_to_generic_errors(serve: Serve) -> None:
    server = await serve({"Get": _raising(DomainError(ErrorKind.INTERNAL, "unused"))})
    errors = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as nowhere:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await nowhere.unary_unary(f"/{SERVICE}/Get")(b"", timeout=5)
        errors.append(domain_error_from_rpc(caught.value))
    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(f"/{SERVICE}/Missing")(b"", timeout=5)
        errors.append(domain_error_from_rpc(caught.value))

    assert [(e.kind, e.code) for e in errors] == [
        (ErrorKind.UNAVAILABLE, "service.unavailable"),
        (ErrorKind.INTERNAL, "internal"),
    ]
