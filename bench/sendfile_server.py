"""``python -m bench.sendfile_server FILE PORT``: a bare socket server for the downloads bench.

Answers every connection with an HTTP/1.1 200 head and the whole file sent by the kernel
(``os.sendfile``: no byte copied through this process), then closes. Nothing is parsed beyond
reading the request: what the same TCP connection gives with no HTTP framework at all, so the
gateway's download rate is judged against it as well as against reading the file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys


def serve(path: str, port: int) -> None:
    size = os.path.getsize(path)
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_server(("127.0.0.1", port)) as listener:
        while True:
            connection, _ = listener.accept()
            with connection, contextlib.suppress(OSError):  # a probe that only connects
                if connection.recv(65536):
                    connection.sendall(head)
                    _send_file(connection, path, size)


def _send_file(connection: socket.socket, path: str, size: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while offset < size:
            offset += os.sendfile(connection.fileno(), fd, offset, size - offset)
    finally:
        os.close(fd)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
