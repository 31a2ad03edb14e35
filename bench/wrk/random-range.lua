-- Random 64 KiB ranged GETs over one object: wrk -s random-range.lua URL -- OBJECT_SIZE
-- Each thread gets its own seed so threads do not walk the same offsets. Non-2xx answers show up in wrk's
-- "Non-2xx or 3xx responses" line; bench/run.sh checks beforehand that a Range request answers 206.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

local object_size = 0
local range_size = 65536

function init(args)
  object_size = tonumber(args[1]) or error("usage: -- OBJECT_SIZE")
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  local blocks = math.floor((object_size - range_size) / range_size)
  local first = math.random(0, blocks) * range_size
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. first .. "-" .. (first + range_size - 1) })
end
