#!/usr/bin/env bash
# Installs what gatewatch's tests and demo need and a fresh machine lacks:
# Debian packages for the independent tools the tests run against. Idempotent:
# a tool already on PATH is left alone, and apt runs only when something is
# missing.
set -euo pipefail

# tool:package pairs. kcat (librdkafka) is the independent Kafka client the
# end-to-end tests read events back with.
need=(
  "kcat:kcat"
)

missing=()
for pair in "${need[@]}"; do
  tool=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for pair in "${need[@]}"; do
  tool=${pair%%:*}
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool still missing after install" >&2; exit 1; }
done
