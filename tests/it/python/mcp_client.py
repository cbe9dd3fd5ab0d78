"""Drives the crawlium binary with the official Python `mcp` SDK.

Usage: mcp_client.py MODE TARGET [TOKEN]
       mcp_client.py index-repos BASE_URL REPO_URL...
       mcp_client.py structured BASE_URL PAGE_URL
  MODE   stdio-initialize | stdio-discover | http-initialize | http-discover | sse
  TARGET the crawlium binary (stdio modes) or the server's base URL (http://HOST:PORT)
  index-repos indexes the repositories over Streamable HTTP, with progress
  structured calls every tool with an output schema on PAGE_URL; the SDK validates each
    answer's structured content against the schema
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


async def structured(base: str, page: str) -> dict:
    """Calls the tools that answer with structured content, one session (so the browser tools
    share its default browser). The SDK checks every answer against the tool's outputSchema
    and raises when one does not match."""
    called = []
    async with httpx2.AsyncClient(timeout=120) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}

                async def call(name, arguments):
                    result = await session.call_tool(name, arguments)
                    text = next((c.text for c in result.content if hasattr(c, "text")), "")
                    check(not result.is_error, f"{name} failed: {text}")
                    if tools[name].output_schema is not None:
                        check(result.structured_content is not None, f"{name}: no structure")
                    called.append(name)
                    return result.structured_content or {}

                await call("crawl_page", {"url": page, "includeLinks": True})
                await call("get_page", {"url": page, "maxChars": 10})
                await call("search_pages", {"query": "name"})
                await call("search_code", {"query": "name"})
                await call("list_sources", {})
                await call("map_site", {"url": page, "useSitemap": False})
                job = await call("crawl_site", {"url": page, "maxPages": 2, "maxDepth": 0})
                await call("job_status", {"jobId": job["jobId"]})
                await call("job_cancel", {"jobId": job["jobId"]})
                await call("list_jobs", {})
                await call("server_status", {})
                await call("browser_navigate", {"url": page})
                await call("browser_snapshot", {"maxChars": 200})
                await call("browser_find", {"text": "name"})
                await call("browser_get_content", {"format": "text"})
                await call("browser_evaluate", {"function": "() => ({a: [1, null]})"})
                await call("browser_press_key", {"key": "Tab"})
                await call("browser_wait_for", {"time": 0.1})
                await call("browser_resize", {"width": 800, "height": 600})
                await call("browser_tabs", {})
                await call("browser_console_messages", {})
                await call("browser_network_requests", {"onlyFailed": True})
                await call("browser_take_screenshot", {"type": "jpeg", "quality": 50})
                await call("browser_pdf_save", {})
                await call("browser_navigate_back", {"snapshot": False})
                opened = await call("browser_open", {"viewport": {"width": 640, "height": 480}})
                await call("browser_list", {})
                await call("browser_close", {"browserId": opened["browserId"]})
    return {"called": called}


async def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "index-repos":
        print(json.dumps(await index_repos(target, sys.argv[3:])))
        return
    if mode == "structured":
        print(json.dumps(await structured(target, sys.argv[3])))
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
