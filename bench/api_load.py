"""A lean HTTP load generator for the API benchmark: N keep-alive HTTP/1.1 connections on
one asyncio loop, each sending GET as soon as its previous answer has been read.

It runs in its own process and shares the machine's cores with the server it measures, so
it does the least work per request that still reads every answer whole: raw requests over
asyncio streams, the head parsed only for its status and Content-Length. (httpx.AsyncClient
with 32 connections cost 5.4 ms of client CPU per request against the bare baseline where
this costs 0.17 ms: CPU the server under test would lose.)

Prints `measuring` when the warm-up ends and a JSON line of results at the end:
  BENCH_API_TOKEN=clr_… .venv/bin/python bench/api_load.py http://127.0.0.1:8000/api/v1/status
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    """What the connections saw inside the measured window."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    body_bytes: int = 0
    reconnects: int = 0


def request_bytes(url: str, token: str | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise SystemExit(f"{url}: give an http:// URL")
    port = parts.port or 80
    lines = [
        f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.hostname}:{port}",
        "Accept: application/json",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode()


async def connection(host: str, port: int, request: bytes, tally: Tally, delay: float) -> None:
    """Send `request` back to back on one connection until the window ends; reconnect if
    the server closes it."""
    await asyncio.sleep(delay)
    while time.perf_counter() < tally.end:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (sent := time.perf_counter()) < tally.end:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                lower = head.lower()
                at = lower.find(b"\r\ncontent-length:")
                if at < 0:
                    raise SystemExit(f"answer without Content-Length: {head[:200]!r}")
                length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)])
                await reader.readexactly(length)
                done = time.perf_counter()
                if sent >= tally.start and done <= tally.end:
                    tally.latencies.append(done - sent)
                    tally.statuses[status] = tally.statuses.get(status, 0) + 1
                    tally.body_bytes = length
                if b"\r\nconnection: close" in lower:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            tally.reconnects += 1
        finally:
            writer.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(url: str, token: str | None, clients: int, warmup: float, duration: float) -> dict:
    host, port, request = request_bytes(url, token)
    now = time.perf_counter()
    tally = Tally(start=now + warmup, end=now + warmup + duration)
    cpu_at_start = 0.0

    def measuring() -> None:
        nonlocal cpu_at_start
        cpu_at_start = cpu_seconds()
        print("measuring", flush=True)

    loop = asyncio.get_running_loop()
    loop.call_later(warmup, measuring)
    # Connections opened one by one over the warm-up's first quarter: opened at once, the
    # first worker process to wake up would accept nearly all of them and serve them alone.
    stagger = warmup / 4 / clients
    await asyncio.gather(
        *(connection(host, port, request, tally, i * stagger) for i in range(clients))
    )
    client_cpu = cpu_seconds() - cpu_at_start
    latencies = sorted(tally.latencies)
    if not latencies:
        raise SystemExit("no request completed inside the measured window")

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / duration, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": round(latencies[-1] * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "body_bytes": tally.body_bytes,
        "reconnects": tally.reconnects,
        "client_cpu_s": round(client_cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument(
        "--token",
        default=os.environ.get("BENCH_API_TOKEN"),
        help="sent as `Authorization: Bearer TOKEN` (default: $BENCH_API_TOKEN)",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    args = parser.parse_args()
    found = asyncio.run(run(args.url, args.token, args.clients, args.warmup, args.duration))
    print(json.dumps(found), flush=True)


if __name__ == "__main__":
    main()
