#!/bin/sh
# Writes the directories of deploy/compose.yaml once: central-1 (with the
# CA) over PostgreSQL, central-2 from it, and a bundle per node that lists
# both instances. Later runs leave what exists alone. The defaults are the
# compose network's; the tests run the same script on loopback ports.
set -eu
cd "${KECHUANG_COMPOSE_DIR:-/kc}"
STORE=${KECHUANG_STORE_URL:-postgres://kechuang:kechuang@postgres:5432/kechuang}
LISTEN_1=${KECHUANG_LISTEN_1:-0.0.0.0:7443}
LISTEN_2=${KECHUANG_LISTEN_2:-0.0.0.0:7443}
ADMIN_1=${KECHUANG_ADMIN_1:-127.0.0.1:7444}
ADMIN_2=${KECHUANG_ADMIN_2:-127.0.0.1:7444}
DASHBOARD_1=${KECHUANG_DASHBOARD_1:-0.0.0.0:7480}
DASHBOARD_2=${KECHUANG_DASHBOARD_2:-0.0.0.0:7480}
URL_1=${KECHUANG_URL_1:-https://central-1:7443}
URL_2=${KECHUANG_URL_2:-https://central-2:7443}
NODE_API=${KECHUANG_NODE_API:-127.0.0.1:7450}
if [ ! -f central-1/central.toml ]; then
  kechuang-central init --data-dir central-1 --listen "$LISTEN_1" --admin-listen "$ADMIN_1" \
    --dashboard-listen "$DASHBOARD_1" --name central-1 --name central-2
  printf '\n[store]\nurl = "%s"\n' "$STORE" >> central-1/central.toml
fi
if [ ! -f central-2/central.toml ]; then
  kechuang-central instance --config central-1/central.toml --out central-2 --listen "$LISTEN_2" \
    --admin-listen "$ADMIN_2" --dashboard-listen "$DASHBOARD_2" --name central-2
fi
for spec in gd:provincial:440000 sz:city:440300 gz:city:440100; do
  id=${spec%%:*}; rest=${spec#*:}; kind=${rest%%:*}; region=${rest#*:}
  if [ ! -f "$id/node.toml" ]; then
    kechuang-central issue --data-dir central-1 --node-id "$id" --kind "$kind" --region "$region" \
      --out "$id" --api-listen "$NODE_API" --central-url "$URL_1"
    sed -i "s|^central = .*|central = [\"$URL_1\", \"$URL_2\"]|" "$id/node.toml"
  fi
done
echo "kechuang: central-1, central-2 and nodes gd, sz, gz are set up in $PWD"
