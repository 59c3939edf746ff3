"""gRPC mechanics shared by every service: server, interceptor, channels and the error mapping."""

from kabinet.rpc.client import create_channel
from kabinet.rpc.errors import abort_with, domain_error_from_rpc, rpc_status
from kabinet.rpc.interceptors import ServerInterceptor
from kabinet.rpc.server import BindError, RpcServer, start_server

__all__ = [
    "BindError",
    "RpcServer",
    "ServerInterceptor",
    "abort_with",
    "create_channel",
    "domain_error_from_rpc",
    "rpc_status",
    "start_server",
]
