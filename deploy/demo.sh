#!/usr/bin/env bash
# Brings up the Kechuang demo network on loopback: a central, one provincial
# node, two city nodes, one university node and one society node, each a real
# process with its own directory under ./demo. Publishes the sample data in
# deploy/demo/data and shows what every node received.
#
#   deploy/demo.sh          build, start, publish, show
#   deploy/demo.sh stop     stop the demo network
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${KECHUANG_DEMO_DIR:-$PWD/demo}
BIN=$PWD/target/debug
SAMPLES=$PWD/deploy/demo/data
DATA=$DEMO/data

stop() {
  for pidfile in "$DEMO"/*/pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = stop ]; then
  stop
  echo "demo network stopped"
  exit 0
fi

echo "==> building"
cargo build --quiet --workspace --bins

stop
rm -rf "$DEMO"
mkdir -p "$DEMO"

# The sample data's dates are days from today ("today+64"), so a challenge's
# deadline and an expert's availability are always ahead, whenever the demo runs.
mkdir -p "$DATA"
for file in "$SAMPLES"/*; do
  out="$DATA/$(basename "$file")"
  cp "$file" "$out"
  case "$file" in *.json) ;; *) continue ;; esac
  for days in $(grep -o '"today+[0-9]*"' "$file" | tr -dc '0-9\n' | sort -un); do
    sed -i "s/\"today+$days\"/\"$(date -d "+$days days" +%F)\"/g" "$out"
  done
done

# start NAME PROGRAM CONFIG: runs a daemon in the background and waits until it is ready.
start() {
  local name=$1 program=$2 config=$3 dir
  dir=$(dirname "$config")
  KECHUANG_LOG=${KECHUANG_LOG:-info} "$BIN/$program" run --config "$config" >"$dir/log.txt" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if [ -f "$dir/ready.json" ]; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start; its log:" >&2
  cat "$dir/log.txt" >&2
  exit 1
}

echo "==> starting central"
"$BIN/kechuang-central" init --data-dir "$DEMO/central" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >/dev/null
start central kechuang-central "$DEMO/central/central.toml"
CENTRAL="https://$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$DEMO/central/ready.json")"

NODES=(
  "gd-provincial provincial 440000 gd-provincial.json"
  "sz-city city 440300 sz-city.json"
  "cd-city city 510100 cd-city.xlsx"
  "lnut-university university 440100 university.json"
  "cmes-society society 110000 society.json"
)
for spec in "${NODES[@]}"; do
  read -r id kind region _ <<<"$spec"
  "$BIN/kechuang-central" issue --data-dir "$DEMO/central" --node-id "$id" --kind "$kind" --region "$region" \
    --out "$DEMO/$id" --central-url "$CENTRAL" >/dev/null
  start "$id" kechuang-node "$DEMO/$id/node.toml"
  echo "    $id ($kind, $region) is up"
done

echo "==> publishing sample data"
for spec in "${NODES[@]}"; do
  read -r id _ _ file <<<"$spec"
  printf '    %-16s ' "$id"
  "$BIN/kechuang-node" publish --config "$DEMO/$id/node.toml" "$DATA/$file"
done

echo "==> waiting for central's matching to settle"
previous=-1
for _ in $(seq 1 50); do
  count=$("$BIN/kechuang-central" list --config "$DEMO/central/central.toml" matches --json | grep -o '"kind":"match"' | wc -l || true)
  if [ "$count" -gt 0 ] && [ "$count" = "$previous" ]; then break; fi
  previous=$count
  sleep 0.4
done

echo "==> waiting for every node to converge with central"
for spec in "${NODES[@]}"; do
  read -r id _ <<<"$spec"
  for _ in $(seq 1 150); do
    if "$BIN/kechuang-node" status --config "$DEMO/$id/node.toml" --json | grep -q '"converged":true'; then break; fi
    sleep 0.2
  done
done

for spec in "${NODES[@]}"; do
  read -r id _ <<<"$spec"
  echo
  echo "==> $id"
  "$BIN/kechuang-node" status --config "$DEMO/$id/node.toml" | grep -E '^(connected|records|converged)'
  for kind in demands outcomes experts; do
    "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" "$kind" | grep -v '^(0 records)' | grep -q . &&
      "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" "$kind" | grep -v '^ID ' | grep -v '^(' || true
  done
  echo "  routed matches:"
  "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" matches
done

echo
echo "==> central knows these nodes"
"$BIN/kechuang-central" nodes --config "$DEMO/central/central.toml"
echo
echo "The demo network keeps running. Try:"
echo "  $BIN/kechuang-node list --config $DEMO/sz-city/node.toml matches"
echo "  $BIN/kechuang-node respond --config $DEMO/sz-city/node.toml MATCH_ID accept"
echo "  $BIN/kechuang-node list --config $DEMO/gd-provincial/node.toml demands --json"
echo "  $BIN/kechuang-node export --config $DEMO/gd-provincial/node.toml --out $DEMO/guangdong.csv"
echo "  $BIN/kechuang-central list --config $DEMO/central/central.toml"
echo "Stop it with: deploy/demo.sh stop"
