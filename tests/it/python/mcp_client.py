"""Drives the crawlium binary with the official Python `mcp` SDK.

Usage: mcp_client.py MODE TARGET [TOKEN]
       mcp_client.py index-repos BASE_URL REPO_URL...
  MODE   stdio-initialize | stdio-discover | http-initialize | http-discover | sse
  TARGET the crawlium binary (stdio modes) or the server's base URL (http://HOST:PORT)
  index-repos indexes the repositories over Streamable HTTP, with progress
Prints one JSON line with what it saw; exits non-zero when an expectation fails.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


def check(condition, message):
    if not condition:
        raise AssertionError(message)


async def exercise(session: ClientSession, handshake: str, expected_transport: str) -> dict:
    if handshake == "initialize":
        result = await session.initialize()
        version = result.protocol_version
        check(result.server_info.name == "crawlium", f"server name {result.server_info.name}")
        check("server_status" in (result.instructions or ""), "instructions mention tools")
    else:
        result = await session.discover()
        version = session.protocol_version if hasattr(session, "protocol_version") else None
        check("2026-07-28" in result.supported_versions, f"supported {result.supported_versions}")

    tools = await session.list_tools()
    names = [t.name for t in tools.tools]
    check("server_status" in names, f"tools {names}")
    status_tool = next(t for t in tools.tools if t.name == "server_status")
    check(status_tool.output_schema is not None, "server_status has an output schema")

    call = await session.call_tool("server_status", {})
    check(not call.is_error, f"server_status failed: {call}")
    status = call.structured_content
    check(status["transport"] == expected_transport, f"transport {status['transport']}")
    negotiated = status.get("negotiatedProtocolVersion")

    seen = {"progress": [], "logs": []}
    if handshake == "initialize" and "debug_sleep" in names:
        # Progress notifications and MCP log messages reach a session client.
        await session.set_logging_level("info")

        async def on_progress(progress, total, message):
            seen["progress"].append(progress)

        slept = await session.call_tool("debug_sleep", {"ms": 350}, progress_callback=on_progress)
        check(not slept.is_error, f"debug_sleep failed: {slept}")
        check(len(seen["progress"]) >= 2, f"progress notifications {seen['progress']}")
        check(seen["progress"] == sorted(seen["progress"]), "progress grows")

    return {
        "handshake": handshake,
        "negotiated": negotiated,
        "tools": names,
        "progress": len(seen["progress"]),
        "logs": seen["logs"],
    }


async def index_repos(base: str, repos: list) -> dict:
    """index_repos with a progress callback: the notifications seen and the finished job."""
    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    async with httpx2.AsyncClient(timeout=120) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                call = await session.call_tool(
                    "index_repos",
                    {"repos": repos, "maxConcurrent": 1},
                    progress_callback=on_progress,
                )
                check(not call.is_error, f"index_repos failed: {call}")
                return {"progress": progress, "job": call.structured_content}


async def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "index-repos":
        print(json.dumps(await index_repos(target, sys.argv[3:])))
        return
    token = sys.argv[3] if len(sys.argv) > 3 else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    logs = []

    async def on_log(params):
        logs.append(params.level)

    transport, handshake = mode.split("-") if "-" in mode else (mode, "initialize")
    if transport == "stdio":
        env = {"RUST_LOG": "warn", "CRAWLIUM_DATA_DIR": os.environ["CRAWLIUM_DATA_DIR"]}
        params = StdioServerParameters(command=target, args=[], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, logging_callback=on_log) as session:
                out = await exercise(session, handshake, "stdio")
    elif transport == "http":
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(f"{target}/mcp", http_client=http) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write, logging_callback=on_log) as session:
                    out = await exercise(session, handshake, "http")
    elif transport == "sse":
        async with sse_client(f"{target}/sse", headers=headers) as (read, write):
            async with ClientSession(read, write, logging_callback=on_log) as session:
                out = await exercise(session, "initialize", "http")
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["logs"] = [str(level) for level in logs]
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
