# Shared by scripts/clients/install-*.sh (sourced, not run).
#
# The cache: one directory outside the clone that outlives a CI run when the
# machine keeps it ($BOLLARD_CLIENTS_CACHE, else /var/cache/bollard-ci when
# writable, else ~/.cache/bollard-ci). It holds apt lists and .debs fetched from
# the suites in sources/ and the finished binaries in bin/, which test/e2e looks
# for when a client is not on PATH. A script that finds its binary there does
# nothing; delete the directory to start over.
set -euo pipefail

clients_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

pick_cache() {
  if [ -n "${BOLLARD_CLIENTS_CACHE:-}" ]; then echo "$BOLLARD_CLIENTS_CACHE"; return; fi
  local d
  for d in /var/cache/bollard-ci "${HOME:-/tmp}/.cache/bollard-ci"; do
    if mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; then echo "$d"; return; fi
  done
  mktemp -d -t bollard-ci.XXXXXX
}
cache=$(pick_cache)
bin_dir="$cache/bin"
mkdir -p "$bin_dir"

say() { echo "[clients] $*" >&2; }

# apt_suite SUITE ARGS...: apt-get with sources/SUITE.sources only, and lists,
# package cache and downloads in the cache directory. The system's sources,
# lists and dpkg state are not touched. The lists are refreshed once a day.
apt_suite() {
  local suite=$1; shift
  local root="$cache/apt/$suite"
  mkdir -p "$root/lists/partial" "$root/cache/archives/partial" "$root/debs"
  local opts=(
    -o "Dir::Etc::sourcelist=$clients_dir/sources/$suite.sources"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$root/lists"
    -o "Dir::Cache=$root/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root"
  )
  if [ -z "$(find "$root/lists" -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null)" ]; then
    apt-get -qq "${opts[@]}" update
  fi
  "$@" "${opts[@]}"
}

# fetch_debs SUITE DEST PACKAGE...: the .deb files of those packages (no
# dependencies) from SUITE, unpacked with dpkg-deb -x into DEST.
fetch_debs() {
  local suite=$1 dest=$2; shift 2
  local debs="$cache/apt/$suite/debs"
  mkdir -p "$dest" "$debs"
  (cd "$debs" && apt_suite "$suite" apt-get download -qq "$@")
  local p f
  for p in "$@"; do
    f=$(ls -t "$debs/${p}"_*.deb | head -n1)
    dpkg-deb -x "$f" "$dest"
  done
}
