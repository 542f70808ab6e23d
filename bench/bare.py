"""The API benchmark's baseline: a bare Starlette app whose one endpoint answers the JSON
document in $BENCH_BARE_BODY (a file holding Clearance's own answer, so both are the same
size and serialise the same way), served by uvicorn's worker processes:

  BENCH_BARE_BODY=status.json .venv/bin/python bench/bare.py --port 8001 --workers 4
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app() -> Starlette:
    document: Any = json.loads(Path(os.environ["BENCH_BARE_BODY"]).read_text())

    async def status(_request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/api/v1/status", status), Route("/api/v1/health", health)])


def main() -> None:
    """Serve `create_app` as `uvicorn --workers N` does (same supervisor, options as
    `clearance serve`), except that the listening socket is made as TCP. uvicorn's own
    leaves its protocol at 0, so asyncio never sets TCP_NODELAY on the connections and
    every keep-alive answer after the first waits ~40 ms for the client's delayed ACK
    (Kludex/uvicorn#3149): a baseline capped by that stall would flatter any server."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    config = uvicorn.Config(
        "bare:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="info",
        server_header=False,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
