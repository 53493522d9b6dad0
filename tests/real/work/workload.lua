-- SPDX-License-Identifier: MIT
-- tests/real: a deterministic Lua 5.4 workload (strings, tables, math,
-- coroutines, metatables, errors, closures, utf8, string.pack, load and
-- string.dump, the garbage collector); one line to stderr; exits 3.
local out = {}
local function say(...)
	local v = table.pack(...)
	for i = 1, v.n do v[i] = tostring(v[i]) end
	io.write(table.concat(v, " ", 1, v.n), "\n")
end

-- strings
local s = string.rep("abc", 5, "-")
say("rep", s, #s, s:upper(), s:reverse():sub(2, 7))
say("gsub", (s:gsub("b", "B")), select(2, s:gsub("%-", "")))
for k, v in string.gmatch("a=1, b=22, c=333", "(%w+)=(%w+)") do out[#out + 1] = k .. v end
say("gmatch", table.concat(out, ","))
say("find", string.find("hello world", "o w"), string.match("key = value", "(%w+)%s*=%s*(%w+)"))
say("format", string.format("%5d|%-5s|%.3f|%x|%q|%g", 42, "ab", math.pi, 255, "a\nb", 1e20))
say("byte", string.byte("ABC", 1, -1), string.char(72, 105))
local packed = string.pack("<i4 d s2", 123456, 2.5, "packed")
say("pack", #packed, string.unpack("<i4 d s2", packed))

-- tables
local t = {}
for i = 1, 200 do t[i] = (i * 7919) % 1009 end
table.sort(t)
say("sort", t[1], t[100], t[200], #t)
table.sort(t, function(a, b) return a > b end)
say("sortdesc", t[1], t[2], table.concat(t, ",", 1, 5))
table.insert(t, 1, -1)
say("insrem", table.remove(t, 1), table.remove(t), #t, table.unpack(table.move({1, 2, 3}, 1, 3, 2, {9})))

-- math and integers
local acc = 0
for i = 1, 10000 do acc = (acc * 31 + i) % 1000000007 end
say("math", acc, 7 // 2, 7 % -3, 2 ^ 10, math.floor(-3.5), math.fmod(7, 3), math.tointeger(8.0))
say("bits", 0xF0 | 0x0F, 0xFF & 0x3C, 1 << 10, ~0, 0xFF ~ 0x0F, math.ult(1, -1), math.maxinteger)
say("float", string.format("%.10f", math.sin(1) + math.cos(1) + math.sqrt(2) + math.log(10)))

-- closures and recursion
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local function counter() local c = 0 return function() c = c + 1 return c end end
local c1 = counter(); c1(); c1()
say("fib", fib(20), c1())

-- coroutines
local gen = coroutine.wrap(function() for i = 1, 5 do coroutine.yield(i * i) end end)
local sq = {}
for _ = 1, 5 do sq[#sq + 1] = gen() end
say("coroutine", table.concat(sq, " "))
local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
say("resume", coroutine.resume(co, 1), coroutine.resume(co, 10), coroutine.status(co))

-- metatables
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end
V.__tostring = function(v) return "V(" .. v.x .. ")" end
V.__lt = function(a, b) return a.x < b.x end
V.__call = function(v, n) return v.x * n end
V.__len = function() return 99 end
local a, b = setmetatable({x = 2}, V), setmetatable({x = 5}, V)
say("meta", tostring(a + b), a < b, a(7), #a)

-- errors
say("pcall", pcall(error, {code = 7}) and "no" or "caught")
say("pcall2", pcall(function() error("boom", 0) end))
say("xpcall", xpcall(function() local x = nil; return x.y end, function(m) return "handled" end))
say("tonumber", tonumber("0x10"), tonumber("z", 36), tonumber("1e3"), tonumber("nope"))

-- load and string.dump
local chunk = load("local a, b = ... return a * b + 1")
say("load", chunk(6, 7))
local bin = string.dump(function(x) return x .. "!" end)
say("dump", load(bin, "dumped", "b")("hi"))

-- utf8
local u = "h\u{e9}llo \u{4e16}\u{754c}"
say("utf8", utf8.len(u), utf8.codepoint(u, 2), utf8.char(72, 228, 8364))

-- garbage collector with weak tables and finalizers
local weak = setmetatable({}, {__mode = "k"})
local fin = 0
for i = 1, 100 do
	local key = setmetatable({}, {__gc = function() fin = fin + 1 end})
	weak[key] = i
end
collectgarbage("collect")
collectgarbage("collect")
local left = 0
for _ in pairs(weak) do left = left + 1 end
say("gc", left, fin)

-- a generated workload: word counts over a fixed text
local text = string.rep("the quick brown fox jumps over the lazy dog ", 50)
local counts = {}
for w in text:gmatch("%a+") do counts[w] = (counts[w] or 0) + 1 end
local words = {}
for w in pairs(counts) do words[#words + 1] = w end
table.sort(words)
for _, w in ipairs(words) do io.write(w, "=", counts[w], " ") end
io.write("\n")
say("date", os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365))

io.stderr:write("lua workload: a line on stderr\n")
say("END")
os.exit(3)
