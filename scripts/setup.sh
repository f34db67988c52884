#!/usr/bin/env bash
# Installs what gatewatch's tests and demo need and a fresh machine lacks:
# the Debian packages of the independent tools the tests run against.
# Idempotent: apt runs only when a package is missing.
set -euo pipefail

# package: why
#   kcat                     independent Kafka client (librdkafka) reading events back
#   rsyslog, rsyslog-gnutls  the syslog collector `gwctl forward syslog` is tested against (TCP and TLS)
#   prometheus-alertmanager  the Alertmanager `gwctl alert` is tested against
#   prometheus               promtool (rule unit tests) and a real scraper
#   nginx                    real error.log lines for `gwctl errlog`
#   wrk                      load generator for the soak
#   jq                       the runbooks' kcat | jq commands, exercised by tests
packages=(kcat rsyslog rsyslog-gnutls prometheus-alertmanager prometheus nginx wrk jq)

installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Packages that ship daemons must not start them here: the tests start
  # their own instances with their own configs on 127.0.0.1.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

for p in "${packages[@]}"; do
  installed "$p" || { echo "setup: $p still missing after install" >&2; exit 1; }
done
for tool in kcat rsyslogd prometheus-alertmanager amtool promtool prometheus nginx wrk jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool not on PATH" >&2; exit 1; }
done
