#!/bin/bash
# Instructions per request of a `keyward` release binary, counted by callgrind (see
# docs/benchmarks.md): healthz, api-key verify and a Bearer GET of one key, each warmed up for 3 s,
# then counted over 4 s of wrk (1 thread, 4 connections). Needs valgrind, wrk and curl.
# Usage: xtask/instructions.sh <keyward binary> <name> <free port>
set -e
BIN=$1; NAME=$2; PORT=$3
D=/tmp/cg-data-$NAME; rm -rf $D; mkdir -p $D
rm -f /tmp/cg-$NAME.*
KEYWARD_DATA_DIR=$D KEYWARD_LOG=warn valgrind --tool=callgrind --callgrind-out-file=/tmp/cg-$NAME.%p "$BIN" serve --listen 127.0.0.1:$PORT >/tmp/cg-$NAME.log 2>&1 &
VPID=$!
B=http://127.0.0.1:$PORT
for i in $(seq 1 240); do curl -s $B/healthz >/dev/null 2>&1 && break; sleep 1; done
ADMIN=$(cat $D/admin.key)
H="Authorization: Bearer $ADMIN"
ACCT=$(curl -s -X POST $B/v1/accounts -H "$H" -H 'Content-Type: application/json' -d '{"name":"bench"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
SA=$(curl -s -X POST $B/v1/accounts/$ACCT/service-accounts -H "$H" -H 'Content-Type: application/json' -d '{"name":"svc"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
KEY=$(curl -s -X POST $B/v1/accounts/$ACCT/service-accounts/$SA/api-keys -H "$H" -H 'Content-Type: application/json' -d '{"name":"k","scopes":["metrics:write"]}')
KID=$(echo "$KEY" | python3 -c 'import sys,json;print(json.load(sys.stdin)["id"])')
KSEC=$(echo "$KEY" | python3 -c 'import sys,json;print(json.load(sys.stdin)["secret"])')
cat > /tmp/cg-verify.lua <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $ADMIN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"key":"$KSEC","required_scopes":["metrics:write"]}]]
LUA
cat > /tmp/cg-get.lua <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $ADMIN"
LUA
echo "" > /tmp/cg-none.lua
run() { # name path script
  wrk -t1 -c4 -d3s -s $3 $B$2 >/dev/null
  callgrind_control -z $VPID >/dev/null
  REQ=$(wrk -t1 -c4 -d4s -s $3 $B$2 | awk '/requests in/ {print $1}')
  callgrind_control -d $VPID >/dev/null
  sleep 1
  F=$(ls -t /tmp/cg-$NAME.* | grep -v log | head -1)
  IR=$(grep -E '^(summary|totals):' $F | head -1 | awk '{print $2}')
  echo "$NAME $1 requests=$REQ Ir=$IR per_request=$(( IR / REQ ))"
}
run healthz /healthz /tmp/cg-none.lua
run verify /v1/api-keys/verify /tmp/cg-verify.lua
run get "/v1/accounts/$ACCT/service-accounts/$SA/api-keys/$KID" /tmp/cg-get.lua
kill -TERM $VPID; wait $VPID 2>/dev/null || true
