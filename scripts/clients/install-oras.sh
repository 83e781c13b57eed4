#!/usr/bin/env bash
# oras (1.2.0) for test/e2e/oras.test.ts: Debian trixie's `oras` package is a
# static Go binary, so its .deb is fetched through sources/trixie.sources and
# unpacked; nothing is installed into the system. Prints the binary's path.
source "$(dirname "$0")/lib.sh"
if [ ! -x "$bin_dir/oras" ]; then
  say "fetching oras from Debian trixie"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  fetch_debs trixie "$tmp" oras
  install -m 0755 "$tmp/usr/bin/oras" "$bin_dir/oras"
fi
"$bin_dir/oras" version >&2
echo "$bin_dir/oras"
