-- wrk script: one stateless (MCP 2026-07-28) tools/call of server_status per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "server_status"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"server_status","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}'

-- Counts answers that are not a successful server_status result, per thread.
errors = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"structuredContent"', 1, true) then
    errors = errors + 1
  end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("errors") or 0)
  end
  io.write(string.format("wrong answers: %d\n", total))
end
