#!/usr/bin/env bash
# Starts the local PostgreSQL, Redis and NATS (JetStream) when they do not
# answer, with the commands DEVELOPERS use on this machine, and waits for them.
set -u
wait_for() { # name, command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then echo "$1 ready"; return 0; fi
    sleep 0.5
  done
  echo "$1 did not come up"; return 1
}
port_open() { (echo >"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

if ! port_open 5432; then
  echo "starting postgres"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! port_open 6379; then
  echo "starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
if ! port_open 4222; then
  echo "starting nats"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
ok=0
wait_for postgres "port_open 5432" || ok=1
wait_for redis "port_open 6379" || ok=1
wait_for nats "port_open 4222" || ok=1
exit $ok
