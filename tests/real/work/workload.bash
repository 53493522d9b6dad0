# SPDX-License-Identifier: MIT
# tests/real: a deterministic bash workload (arrays, associative arrays,
# functions, recursion, parameter expansion, arithmetic, printf, [[ =~ ]],
# extglob, here-documents, command substitution and pipelines (forks),
# read/mapfile, case, traps, eval); one line to stderr; exits 3.
shopt -s extglob
set -o pipefail
trap 'echo "trap EXIT: status $?"; echo END' EXIT

fib() { local n=$1; ((n < 2)) && { echo "$n"; return; }; echo $(($(fib $((n - 1))) + $(fib $((n - 2)))))
}
fact() { local n=$1 r=1; while ((n > 1)); do ((r *= n--)); done; echo "$r"; }
echo "fib $(fib 9) fact $(fact 20)"

words=(the quick brown fox jumps over the lazy dog)
declare -A count
for w in "${words[@]}" "${words[@]}"; do count[$w]=$((${count[$w]:-0} + 1)); done
for k in $(printf '%s\n' "${!count[@]}" | LC_ALL=C sort); do printf '%s=%d ' "$k" "${count[$k]}"; done
echo
echo "n=${#words[@]} slice=${words[*]:2:3} last=${words[-1]} keys=${#count[@]}"

s="Hello, World of Bash"
echo "${s^^} ${s,,} ${s//o/0} ${s#*, } ${s%% *} ${#s} ${s:7:5} ${s/#Hello/Bye}"
f=/usr/lib/x86_64-linux-gnu/libc.so.6
echo "${f##*/} ${f%/*} ${f%.so*} ${undefined:-default} ${s@Q}"
x=+(ab)
case "ababab" in $x) echo "extglob match" ;; *) echo "no match" ;; esac
if [[ "2026-04-19" =~ ^([0-9]{4})-([0-9]{2})-([0-9]{2})$ ]]; then
	echo "date ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
fi
printf '%5d|%-6s|%05.2f|%x|%o|%q\n' 42 ab 3.14159 255 8 "a b'c"
printf -v padded '%08d' 1234
echo "padded $padded $((2 ** 40)) $((-7 / 2)) $((-7 % 3)) $((0xff & 0x3c)) $((1 << 12))"

total=0
while read -r a b c; do
	total=$((total + a * b + c))
done <<EOF2
1 2 3
4 5 6
7 8 9
EOF2
echo "total $total"
mapfile -t lines < <(for i in {1..20}; do echo "line $((i * i))"; done)
echo "mapfile ${#lines[@]} ${lines[0]} ${lines[19]}"
sum=0
printf '%s\n' 3 1 4 1 5 9 2 6 | while read -r n; do sum=$((sum + n)); echo "$sum"; done | tail -n 1
read -r -a arr <<<"alpha beta gamma"
echo "read ${arr[1]} ${#arr[@]}"
out=$(for i in {1..5}; do echo -n "$i,"; done)
echo "subst $out"
eval 'evald=$((6 * 7))'
echo "eval $evald"
declare -a sorted=()
for v in 5 3 9 1 7; do
	i=${#sorted[@]}
	while ((i > 0)) && ((sorted[i - 1] > v)); do sorted[i]=${sorted[i - 1]}; ((i--)); done
	sorted[i]=$v
done
echo "sorted ${sorted[*]}"
declare -p sorted
str=""
for ((i = 0; i < 300; i++)); do str+=$((i % 10)); done
echo "str ${#str} ${str:290}"
func_err() { return 7; }
func_err || echo "func status $?"
( exit 5 ) || echo "subshell status $?"
echo "bash workload: a line on stderr" >&2
exit 3
