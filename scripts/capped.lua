-- wrk script: each wrk thread stops after CAP_RESPONSES responses (default 10000), so a load
-- checked against a collector that keeps a bounded number of spans stays under that bound
-- however fast the machine is. Used by the completeness check of scripts/bench-tracing.sh.
local cap = tonumber(os.getenv("CAP_RESPONSES") or "") or 10000
local seen = 0

response = function()
  seen = seen + 1
  if seen >= cap then
    wrk.thread:stop()
  end
end
