#!/usr/bin/env bash
# (Copied from the team's shared scripts so a clean clone can run it; keep the two in step.)
# Smoke test of a built capykv checkout, the way operators start it: the `capykv-server` bin from
# package.json with --port and --dir, redis-cli against it, a kill -9, a restart from the same dir,
# and `capykv-check` on the pool. Usage (from the project root): ../shared/scripts/smoke.sh [PORT]
# Needs redis-cli (Debian redis-tools). Exit 0 iff every check holds.
set -u
port=${1:-6479}
bin() { node -e "const b=require('./package.json').bin||{};process.stdout.write(typeof b==='string'?b:(b['$1']||''))"; }
server=$(bin capykv-server); check=$(bin capykv-check)
[ -n "$server" ] || { echo "package.json has no capykv-server bin"; exit 1; }
dir=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
start() {
  node "$server" --port "$port" --dir "$dir" >>"$dir/server.log" 2>&1 & pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "no PONG on $port"; tail -5 "$dir/server.log"; return 1
}
fails=0; passes=0; t() { if eval "$2"; then echo "ok   $1"; passes=$((passes+1)); else echo "FAIL $1"; fails=$((fails+1)); fi; }
start || exit 1
t "SET/GET" '[ "$(redis-cli -p $port SET k v)" = OK ] && [ "$(redis-cli -p $port GET k)" = v ]'
t "MULTI/EXEC" 'printf "MULTI\nINCR c\nINCR c\nEXEC\n" | redis-cli -p $port | tr "\n" " " | grep -q "OK QUEUED QUEUED 1 2"'
t "unknown command error" 'redis-cli -p $port NOSUCH a | grep -q "ERR unknown command"'
for i in $(seq 1 500); do printf 'SET key:%d %d\r\n' "$i" "$i"; done | redis-cli -p "$port" --pipe >/dev/null 2>&1
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
start || exit 1
t "survives kill -9" '[ "$(redis-cli -p $port GET k)" = v ] && [ "$(redis-cli -p $port GET c)" = 2 ] && [ "$(redis-cli -p $port DBSIZE)" = 502 ]'
redis-cli -p "$port" SHUTDOWN >/dev/null 2>&1; wait "$pid" 2>/dev/null; pid=
if [ -n "$check" ]; then
  pool=$(ls -S "$dir" | grep -v server.log | head -1)
  t "capykv-check clean pool" 'node "$check" "$dir/$pool" >/dev/null 2>&1'
else
  echo "FAIL package.json has no capykv-check bin"; fails=$((fails+1))
fi
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
