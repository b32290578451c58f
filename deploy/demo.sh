#!/usr/bin/env bash
# Brings up the Kechuang demo network on loopback: a central, one provincial
# node, two city nodes, one university node and one society node, each a real
# process with its own directory under ./demo. Publishes the sample data in
# deploy/demo/data, takes a few matches through their lifecycle (one expires
# unanswered, one is contracted, an outcome is withdrawn) and shows what
# every node holds, the programme's figures and the year's rankings.
#
#   deploy/demo.sh          build, start, publish, show
#   deploy/demo.sh stop     stop the demo network
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${KECHUANG_DEMO_DIR:-$PWD/demo}
BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug
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

echo "==> building (the first build compiles every dependency: several minutes on two cores)"
cargo build --workspace --bins

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

# on NODE VERB ARGS...: kechuang-node VERB at NODE.
on() { local id=$1; shift; "$BIN/kechuang-node" "$1" --config "$DEMO/$id/node.toml" "${@:2}"; }

# match_between NODE DEMAND_TITLE SUPPLY_TITLE: the id of that match at NODE.
match_between() {
  on "$1" list matches --json | sed 's/},{"core"/}\n{"core"/g' |
    grep -F "\"demand_title\":\"$2\"" | grep -F "\"supply_title\":\"$3\"" |
    grep -o '"id":"[^"]*"' | head -n 1 | cut -d'"' -f4
}

# state_at NODE MATCH: the match's state at NODE.
state_at() {
  on "$1" list matches --json | sed 's/},{"core"/}\n{"core"/g' | grep -F "\"id\":\"$2\"" |
    grep -o '"state":"[^"]*"' | head -n 1 | cut -d'"' -f4
}

# await SECONDS WHAT COMMAND...: runs COMMAND until it succeeds, or gives up naming WHAT.
await() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "gave up waiting for $what" >&2
  exit 1
}
# answer NODE MATCH ACTION [OPTIONS]: NODE answers its side of MATCH.
answer() {
  local id=$1 match=$2
  shift 2
  on "$id" respond "$match" "$@" >/dev/null
  printf '    %-16s %s\n' "$id" "$*"
}
is_state() { [ "$(state_at "$1" "$2")" = "$3" ]; }
has_match() { [ -n "$(match_between "$@")" ]; }

# The demo's proposals first live 20 seconds (a network's default is 30
# days), so that one expires while you watch; central then restarts with
# the default on the same ports.
echo "==> starting central"
"$BIN/kechuang-central" init --data-dir "$DEMO/central" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --dashboard-listen 127.0.0.1:0 >/dev/null
sed -i 's/^proposal_ttl_days = .*/proposal_ttl_days = 0.000231/' "$DEMO/central/central.toml"
start central kechuang-central "$DEMO/central/central.toml"
LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$DEMO/central/ready.json")
ADMIN=$(sed -n 's/.*"admin":"\([^"]*\)".*/\1/p' "$DEMO/central/ready.json")
DASHBOARD=$(sed -n 's/.*"dashboard":"\([^"]*\)".*/\1/p' "$DEMO/central/ready.json")
sed -i "s/^listen = .*/listen = \"$LISTEN\"/; s/^admin_listen = .*/admin_listen = \"$ADMIN\"/; s/^dashboard_listen = .*/dashboard_listen = \"$DASHBOARD\"/" "$DEMO/central/central.toml"
CENTRAL="https://$LISTEN"

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

publish() {
  printf '    %-16s ' "$1"
  on "$1" publish "$DATA/$2"
}

echo "==> Chengdu's demands meet the society's experts; only one proposal is answered"
publish cmes-society society.json
publish cd-city cd-city.xlsx
await 30 "the proposals at cd-city" has_match cd-city 川菜调味料生产线杀菌工艺改进 赵雅琴
await 30 "the proposals at cd-city" has_match cd-city 航空发动机叶片涂层无损检测 王慧敏
answered=$(match_between cd-city 航空发动机叶片涂层无损检测 王慧敏)
unanswered=$(match_between cd-city 川菜调味料生产线杀菌工艺改进 赵雅琴)
await 30 "the match at cmes-society" is_state cmes-society "$answered" proposed
answer cd-city "$answered" accept
answer cmes-society "$answered" accept
echo "    waiting for the other proposal to expire unanswered (20 s here, 30 days by default)"
await 60 "the proposal to expire" is_state cd-city "$unanswered" expired
await 30 "both sides to connect" is_state cd-city "$answered" connected
echo "    $unanswered  expired    川菜调味料生产线杀菌工艺改进 × 赵雅琴"
echo "    $answered  connected  航空发动机叶片涂层无损检测 × 王慧敏"

echo "==> restarting central with the default lifetime of a proposal (30 days)"
kill "$(cat "$DEMO/central/pid")"
while kill -0 "$(cat "$DEMO/central/pid")" 2>/dev/null; do sleep 0.1; done
rm -f "$DEMO/central/ready.json"
sed -i 's/^proposal_ttl_days = .*/proposal_ttl_days = 30.0/' "$DEMO/central/central.toml"
start central kechuang-central "$DEMO/central/central.toml"

echo "==> publishing the rest of the sample data"
publish gd-provincial gd-provincial.json
publish sz-city sz-city.json
publish lnut-university university.json

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

echo "==> Shenzhen and the university sign a licence for 120 万元"
await 30 "the match at sz-city" has_match sz-city 储能电站锂电池热失控早期预警 基于电化学阻抗谱的锂电池热失控早期预警方法
contracted=$(match_between sz-city 储能电站锂电池热失控早期预警 基于电化学阻抗谱的锂电池热失控早期预警方法)
await 30 "the match at lnut-university" is_state lnut-university "$contracted" proposed
answer sz-city "$contracted" accept
answer lnut-university "$contracted" accept
await 30 "both sides to connect" is_state sz-city "$contracted" connected
await 30 "both sides to connect" is_state lnut-university "$contracted" connected
answer sz-city "$contracted" contracted --type 技术许可 --amount 120
answer lnut-university "$contracted" contracted --type 技术许可 --amount 120
await 30 "the contract at sz-city" is_state sz-city "$contracted" contracted

echo "==> the university withdraws an outcome it has licensed elsewhere"
await 30 "the match at sz-city" has_match sz-city 消费电子外壳注塑件表面缺陷自动检测 小样本深度学习注塑件外观缺陷检测系统
withdrawn=$(match_between sz-city 消费电子外壳注塑件表面缺陷自动检测 小样本深度学习注塑件外观缺陷检测系统)
printf '    lnut-university  '
on lnut-university withdraw LN-CG-2025-021 --reason licensed --note 已许可东莞一家注塑企业
await 30 "its proposal to be withdrawn at sz-city" is_state sz-city "$withdrawn" withdrawn

echo "==> waiting for every node to converge again"
for spec in "${NODES[@]}"; do
  read -r id _ <<<"$spec"
  for _ in $(seq 1 150); do
    if on "$id" status --json | grep -q '"converged":true'; then break; fi
    sleep 0.2
  done
done

for spec in "${NODES[@]}"; do
  read -r id _ <<<"$spec"
  echo
  echo "==> $id"
  # In English or, under a zh_* locale, in Chinese.
  "$BIN/kechuang-node" status --config "$DEMO/$id/node.toml" | grep -E '^(connected|records|converged|已连接|记录|已一致)'
  for kind in demands outcomes experts; do
    "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" "$kind" | grep -v -E '^(\(0 records\)|（共 0 条）)' | grep -q . &&
      "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" "$kind" | grep -v -E '^(ID|编号) ' | grep -v -E '^(\(|（)' || true
  done
  echo "  routed matches:"
  "$BIN/kechuang-node" list --config "$DEMO/$id/node.toml" matches
done

echo
echo "==> lnut-university's outcomes, the withdrawn one included"
on lnut-university list outcomes --withdrawn
echo
echo "==> the contracted match, step by step, as central recorded it"
"$BIN/kechuang-central" history --config "$DEMO/central/central.toml" "$contracted"
echo
echo "==> the programme's figures (考核评估), by province"
"$BIN/kechuang-central" stats --config "$DEMO/central/central.toml" --by province
echo
echo "==> what the Guangdong provincial station sees of them"
on gd-provincial stats
echo
echo "==> this year's 榜单"
"$BIN/kechuang-central" rankings --config "$DEMO/central/central.toml"
echo
echo "==> central knows these nodes"
"$BIN/kechuang-central" nodes --config "$DEMO/central/central.toml"
echo
echo "Central's dashboard (全国概览, 网络, 榜单, 最新对接): http://$DASHBOARD/"
echo
echo "Each station's console (上传, 需求, 成果, 专家, 对接, 揭榜, 导出), signed in by its link:"
for spec in "${NODES[@]}"; do
  read -r id _ <<<"$spec"
  printf '  %-16s %s\n' "$id" "$(on "$id" console)"
done
echo
echo "The demo network keeps running. Try:"
echo "  $BIN/kechuang-node watch --config $DEMO/sz-city/node.toml"
echo "  $BIN/kechuang-node template --out $DEMO/模板.xlsx"
echo "  $BIN/kechuang-node list --config $DEMO/sz-city/node.toml matches"
echo "  $BIN/kechuang-node respond --config $DEMO/sz-city/node.toml MATCH_ID accept"
echo "  $BIN/kechuang-node respond --config $DEMO/sz-city/node.toml MATCH_ID decline --reason 价格"
echo "  $BIN/kechuang-node withdraw --config $DEMO/sz-city/node.toml SZ-2026-002 --reason solved"
echo "  $BIN/kechuang-central history --config $DEMO/central/central.toml $contracted"
echo "  $BIN/kechuang-node list --config $DEMO/gd-provincial/node.toml demands --json"
echo "  $BIN/kechuang-node export --config $DEMO/gd-provincial/node.toml --out $DEMO/guangdong.csv"
echo "  $BIN/kechuang-central list --config $DEMO/central/central.toml"
echo "  $BIN/kechuang-central stats --config $DEMO/central/central.toml --by month --xlsx $DEMO/stats.xlsx"
echo "  $BIN/kechuang-node stats --config $DEMO/gd-provincial/node.toml --by city --csv $DEMO/guangdong-stats.csv"
echo "Stop it with: deploy/demo.sh stop"
