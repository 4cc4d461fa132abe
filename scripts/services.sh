#!/usr/bin/env bash
# Make sure the services the integration tests use are installed and running:
# Redis (127.0.0.1:6379), NATS with JetStream (127.0.0.1:4222), and the Prometheus and
# node-exporter and Alertmanager binaries (the tests start their own instances on free ports), and Debian's
# Chromium for the console's browser tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
set -euo pipefail

have_port() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "services.sh: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
if ! have_port 6379; then
  echo "services.sh: starting redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
if ! have_port 4222; then
  echo "services.sh: starting nats-server with JetStream on 127.0.0.1:4222"
  NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p /var/lib/nats-server 2>/dev/null || true
  SD=/var/lib/nats-server; [ -w "$SD" ] || SD=$(mktemp -d)
  if command -v start-stop-daemon >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec "$NATS" -- -a 127.0.0.1 -p 4222 -js -sd "$SD"
  else
    nohup "$NATS" -a 127.0.0.1 -p 4222 -js -sd "$SD" >/dev/null 2>&1 &
  fi
fi
for i in $(seq 1 50); do have_port 6379 && have_port 4222 && break; sleep 0.2; done
have_port 6379 || { echo "services.sh: redis did not come up" >&2; exit 1; }
have_port 4222 || { echo "services.sh: nats did not come up" >&2; exit 1; }
echo "services.sh: redis, nats, prometheus, node exporter, alertmanager and chromium ready"
