"""`python -m uvicorn`, with TCP_NODELAY kept for `--workers N` (uvicorn issue #3149).

With `--workers N` uvicorn binds the listening socket itself with `proto` 0; accepted sockets
inherit it and asyncio only sets TCP_NODELAY when `proto == IPPROTO_TCP`, so every keep-alive
response after the first waits ~40 ms for the client's delayed ACK (Nagle). `--workers 1` is
unaffected (asyncio binds from getaddrinfo, proto 6). This wrapper re-labels the bound socket
as TCP and runs uvicorn's own CLI unchanged otherwise. `bench.status_load` uses it for
`--workers N > 1`.
"""

import socket
import sys

import uvicorn.config
from uvicorn.main import main

_bind_socket = uvicorn.config.Config.bind_socket


def bind_socket(self: uvicorn.config.Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(True)
    return sock


uvicorn.config.Config.bind_socket = bind_socket

if __name__ == "__main__":
    sys.exit(main())
