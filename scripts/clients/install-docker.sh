#!/usr/bin/env bash
# Docker 20.10 for test/e2e/docker.test.ts: bookworm's docker.io, installed from
# the system's own sources (it needs containerd, runc and the rest of the system).
# The .debs are kept in the cache directory, so a later run on a machine that
# keeps it downloads nothing. The test starts its own dockerd on its own socket
# and data root and stops it after, so the system's docker service (which the
# package enables, and which this script does not start) is never used.
# Prints the path of the docker client next to that dockerd.
source "$(dirname "$0")/lib.sh"
if ! /usr/sbin/dockerd --version 2>/dev/null | grep -q ' 20\.10\.' || ! [ -x /usr/bin/docker ]; then
  say "installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  archives="$cache/apt/docker.io/archives"
  mkdir -p "$archives/partial"
  apt-cache show docker.io >/dev/null 2>&1 || apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o "Dir::Cache::Archives=$archives" docker.io >/dev/null
fi
/usr/sbin/dockerd --version >&2
echo /usr/bin/docker
