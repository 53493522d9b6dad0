# SPDX-License-Identifier: MIT
# tests/real: a deterministic gawk workload over input.txt (fields, arrays,
# dynamic and constant regular expressions, gsub/gensub, split, sorted
# traversal, sprintf, recursion, getline, strftime in UTC); one line to
# stderr; exits 3.
function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) }
function join(a, n, sep,    i, s) { for (i = 1; i <= n; i++) s = s (i > 1 ? sep : "") a[i]; return s }
BEGIN { FS = "[ \t]+"; OFS = "|" }
{
	lines++
	words += NF
	for (i = 1; i <= NF; i++) {
		w = tolower($i)
		gsub(/[^a-z0-9]/, "", w)
		if (w != "") count[w]++
	}
	if (match($0, /([0-9]+)-([0-9]+)/, m)) ranges += m[2] - m[1]
	if ($0 ~ "^#") comments++
	pat = "o+"
	n = gsub(pat, "0", $0)
	zeros += n
	long[length($0)] = NR
}
/f0x/ { fox = fox NR "," }
END {
	print "lines", lines, "words", words, "comments", comments, "ranges", ranges, "zeros", zeros
	PROCINFO["sorted_in"] = "@ind_str_asc"
	for (w in count) if (count[w] > 2) printf "%s=%d ", w, count[w]
	print ""
	PROCINFO["sorted_in"] = "@val_num_desc"
	k = 0
	for (w in count) if (++k <= 5) printf "%s:%d ", w, count[w]
	print ""
	n = split("delta alpha charlie bravo echo", parts, " ")
	asort(parts, sorted)
	print "asort", join(sorted, n, ",")
	nk = asorti(count, keys)
	print "asorti", nk, keys[1], keys[nk]
	print "gensub", gensub(/([a-z]+) ([a-z]+)/, "\\2 \\1", "g", "hello world foo bar")
	print "sprintf", sprintf("%5.2f|%-6s|%05d|%x|%c|%e", 3.14159, "ab", 42, 255, 65, 12345.678)
	print "substr", substr("abcdefgh", 3, 4), index("abcdefgh", "def"), toupper("mixed Case")
	print "fact", fact(20), 2 ^ 53, int(-7 / 2), -7 % 3, sqrt(2), exp(1), atan2(1, 1) * 4
	print "strftime", strftime("%Y-%m-%d %H:%M:%S", 1000000000, 1)
	print "fox", fox
	while ((getline line < ARGV[1]) > 0) if (line ~ /dog/) dogs++
	close(ARGV[1])
	print "dogs", dogs
	print "and", and(0xF0, 0x3C), or(1, 2), xor(5, 3), lshift(1, 12), (compl(0) > 0)
	print "awk workload: a line on stderr" > "/dev/stderr"
	print "END"
	exit 3
}
