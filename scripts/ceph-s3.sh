#!/usr/bin/env bash
# A throw-away S3 server for Bollard's tests and benchmarks: Ceph's RADOS Gateway
# on a one-monitor, one-OSD cluster bound to 127.0.0.1, authentication off.
# Only Debian packages are used (ceph-mon ceph-osd radosgw ceph-common).
#
#   scripts/ceph-s3.sh start    start (or find running) and print S3_* variables
#   scripts/ceph-s3.sh stop     stop the daemons this state directory started
#   scripts/ceph-s3.sh purge    stop and delete the state directory
#   scripts/ceph-s3.sh install  install the Debian packages if missing
#
# Settings (environment): BOLLARD_CEPH_DIR (state, default /tmp/bollard-ceph),
# BOLLARD_CEPH_S3_PORT (gateway, default 7490), BOLLARD_CEPH_MON_PORT (default 40310),
# BOLLARD_CEPH_STORE (bluestore on a sparse file, or memstore), BOLLARD_CEPH_INSTALL=1
# to install missing packages on start.
set -euo pipefail

state=${BOLLARD_CEPH_DIR:-/tmp/bollard-ceph}
s3_port=${BOLLARD_CEPH_S3_PORT:-7490}
mon_port=${BOLLARD_CEPH_MON_PORT:-40310}
store=${BOLLARD_CEPH_STORE:-bluestore}
access_key=bollard
secret_key=bollard-secret
endpoint="http://127.0.0.1:${s3_port}"
conf="$state/ceph.conf"

say() { echo "[ceph-s3] $*" >&2; }
running() { [ -f "$state/run/$1.pid" ] && kill -0 "$(cat "$state/run/$1.pid")" 2>/dev/null; }
gateway_answers() { curl -fsS -m 2 -o /dev/null "$endpoint/" 2>/dev/null; }
ceph_cli() { ceph -c "$conf" --connect-timeout 5 "$@"; }

print_env() {
  printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\nS3_REGION=us-east-1\n' \
    "$endpoint" "$access_key" "$secret_key"
}

have_packages() { command -v radosgw && command -v ceph-mon && command -v ceph-osd && command -v ceph && command -v curl; } >/dev/null

install_packages() {
  have_packages && return 0
  say "installing Ceph from Debian"
  export DEBIAN_FRONTEND=noninteractive
  compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -qq
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common curl >/dev/null
}

write_conf() {
  # Single host, single replica: every safety margin that assumes several
  # machines is turned off, and the gateway talks to the cluster without cephx.
  cat >"$conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $state/run
admin socket = $state/run/\$name.asok
pid file = $state/run/\$name.pid
log file = $state/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $state/mon/\$cluster-\$id
# one monitor: nothing to batch, so publish map changes at once
paxos propose interval = 0.05
paxos min wait = 0.01
[osd]
osd data = $state/osd/\$cluster-\$id
osd objectstore = $store
memstore device bytes = 8589934592
bluestore block path = $state/osd/block
bluestore block create = true
bluestore block size = 21474836480
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mkfs = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
[client.rgw.bollard]
# the gateway's own defaults ask for cephx and a secure monitor session
auth client required = none
ms mon client mode = crc
# without tcp_nodelay every small response waits for a delayed ACK (~40 ms)
rgw frontends = beast endpoint=127.0.0.1:$s3_port tcp_nodelay=1
rgw thread pool size = 64
rgw dns name =
rgw enable usage log = false
# deleted and overwritten data is reclaimed by a garbage collector, by default
# two hours later: tests and benchmarks churn through gigabytes, so reclaim soon
rgw gc obj min wait = 10
rgw gc processor period = 20
rgw data = $state/rgw
EOF
}

start_monitor() {
  if [ ! -f "$state/mon/ceph-a/store.db/CURRENT" ]; then
    local fsid
    fsid=$(awk '$1 == "fsid" {print $3}' "$conf")
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$state/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$state/monmap" >/dev/null 2>&1
  fi
  running mon.a || ceph-mon -c "$conf" -i a 2>>"$state/log/mon.stderr"
  for _ in $(seq 60); do ceph_cli mon stat >/dev/null 2>&1 && return 0; sleep 0.5; done
  say "monitor did not answer; see $state/log"; return 1
}

create_pools() {
  # Creating the gateway's pools in one CLI session is much faster than letting
  # the gateway create them one at a time on first use.
  [ -f "$state/pools.done" ] && return 0
  local p
  for p in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    printf 'osd pool create %s 8 8\nosd pool application enable %s rgw\n' "$p" "$p"
  done | ceph_cli >/dev/null 2>&1 || true
  [ "$(ceph_cli osd pool ls 2>/dev/null | grep -c rgw)" -ge 7 ] && touch "$state/pools.done"
  return 0
}

start_osd() {
  if [ ! -f "$state/osd/ceph-0/whoami" ]; then
    local uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$state/osd/ceph-0"
    ceph_cli osd new "$uuid" 0 >/dev/null
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  fi
  running osd.0 || ceph-osd -c "$conf" -i 0 2>>"$state/log/osd.stderr"
  for _ in $(seq 120); do ceph_cli osd stat 2>/dev/null | grep -q '1 up' && return 0; sleep 0.5; done
  say "OSD did not come up; see $state/log"; return 1
}

start_gateway() {
  if ! running rgw; then
    mkdir -p "$state/rgw"
    # Run in the foreground of a detached session: the daemonising path only
    # returns once the pools are usable, which would block this script.
    setsid radosgw -c "$conf" -n client.rgw.bollard -f >>"$state/log/rgw.stdout" 2>&1 </dev/null &
    echo $! >"$state/run/rgw.pid"
  fi
  for _ in $(seq 240); do gateway_answers && return 0; sleep 0.25; done
  say "gateway did not answer on $endpoint; see $state/log"; return 1
}

ensure_user() {
  # --admin-socket "": the running gateway already owns the default socket path
  local admin=(radosgw-admin -c "$conf" -n client.rgw.bollard --admin-socket "")
  "${admin[@]}" user info --uid=bollard >/dev/null 2>&1 && return 0
  "${admin[@]}" user create --uid=bollard --display-name=bollard \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null
}

start() {
  if [ "${BOLLARD_CEPH_INSTALL:-0}" = 1 ]; then install_packages; fi
  have_packages || { say "Ceph is not installed (scripts/ceph-s3.sh install)"; exit 3; }
  if running rgw && gateway_answers; then print_env; return 0; fi
  local t0=$SECONDS
  if ! bring_up; then
    # The state is throw-away test data; one left damaged (an OSD killed at a bad
    # moment has been seen to refuse its own store) must not block every later run.
    say "the cluster in $state did not come up; starting again from an empty state"
    stop
    rm -rf "$state"
    bring_up || exit 1
  fi
  say "S3 gateway up at $endpoint ($((SECONDS - t0)) s)"
  print_env
}

bring_up() {
  mkdir -p "$state"/{run,log,mon,osd} &&
    { [ -f "$conf" ] || write_conf; } &&
    start_monitor && create_pools && start_osd && start_gateway && ensure_user
}

stop() {
  local name pid
  for name in rgw osd.0 mon.a; do
    [ -f "$state/run/$name.pid" ] || continue
    pid=$(cat "$state/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$state/run/$name.pid"
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  purge) stop; rm -rf "$state" ;;
  install) install_packages ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|purge|install|env" >&2; exit 2 ;;
esac
