-- wrk script: every request arrives as it would from an Istio ingress gateway with the Zipkin
-- provider, through productpage's sidecar: fresh B3 ids for the sidecar's span (a child of the
-- gateway's), sampled, and an x-request-id. Used by the benchmarks' "gateway" scenario, where
-- pass-through services forward these headers and participating ones replace them.
local digits = "0123456789abcdef"

local function hex(n)
  local out = {}
  for i = 1, n do
    local k = math.random(16)
    out[i] = digits:sub(k, k)
  end
  return table.concat(out)
end

math.randomseed(os.time())

request = function()
  wrk.headers["x-request-id"] = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-8" .. hex(3) .. "-" .. hex(12)
  wrk.headers["x-b3-traceid"] = hex(32)
  wrk.headers["x-b3-spanid"] = hex(16)
  wrk.headers["x-b3-parentspanid"] = hex(16)
  wrk.headers["x-b3-sampled"] = "1"
  return wrk.format()
end
