#!/bin/sh
# Writes the directories of deploy/compose.yaml once: central-1 (with the
# CA) over PostgreSQL, central-2 from it, and a bundle per node that lists
# both instances. Later runs leave what exists alone.
set -eu
cd "${KECHUANG_COMPOSE_DIR:-/kc}"
STORE=${KECHUANG_STORE_URL:-postgres://kechuang:kechuang@postgres:5432/kechuang}
if [ ! -f central-1/central.toml ]; then
  kechuang-central init --data-dir central-1 --listen 0.0.0.0:7443 --dashboard-listen 0.0.0.0:7480 \
    --name central-1 --name central-2
  printf '\n[store]\nurl = "%s"\n' "$STORE" >> central-1/central.toml
fi
if [ ! -f central-2/central.toml ]; then
  kechuang-central instance --config central-1/central.toml --out central-2 --name central-2
fi
for spec in gd:provincial:440000 sz:city:440300 gz:city:440100; do
  id=${spec%%:*}; rest=${spec#*:}; kind=${rest%%:*}; region=${rest#*:}
  if [ ! -f "$id/node.toml" ]; then
    kechuang-central issue --data-dir central-1 --node-id "$id" --kind "$kind" --region "$region" \
      --out "$id" --api-listen 127.0.0.1:7450 --central-url https://central-1:7443
    sed -i 's|^central = .*|central = ["https://central-1:7443", "https://central-2:7443"]|' "$id/node.toml"
  fi
done
echo "kechuang: central-1, central-2 and nodes gd, sz, gz are set up in /kc"
