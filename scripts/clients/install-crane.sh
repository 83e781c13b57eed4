#!/usr/bin/env bash
# crane (0.20.1) for test/e2e/crane.test.ts, built offline from Debian sources:
# trixie's go-containerregistry and the -dev packages it imports, unpacked into
# a GOPATH, and the Go 1.23 toolchain from bookworm-backports, unpacked too.
# GOPATH mode (GO111MODULE=off) with GOPROXY=off: nothing comes from the Go
# module proxy. Nothing is installed into the system. Prints the binary's path.
source "$(dirname "$0")/lib.sh"
go_pkgs=(
  golang-github-google-go-containerregistry-dev
  golang-github-containerd-stargz-snapshotter-dev
  golang-github-docker-distribution-dev
  golang-github-docker-docker-dev
  golang-github-google-go-cmp-dev
  golang-github-klauspost-compress-dev
  golang-github-mitchellh-go-homedir-dev
  golang-github-opencontainers-go-digest-dev
  golang-github-opencontainers-image-spec-dev
  golang-github-spf13-cobra-dev
  golang-golang-x-sync-dev
  golang-github-cespare-xxhash-dev
  golang-github-docker-docker-credential-helpers-dev
  golang-github-pkg-errors-dev
  golang-github-sirupsen-logrus-dev
  golang-github-spf13-pflag-dev
  golang-github-vbatts-tar-split-dev
  golang-golang-x-sys-dev
)
if [ ! -x "$bin_dir/crane" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  say "fetching Go 1.23 from bookworm-backports"
  fetch_debs bookworm-backports "$tmp/go" golang-1.23-go golang-1.23-src
  say "fetching go-containerregistry and its imports from Debian trixie"
  fetch_debs trixie "$tmp/src" "${go_pkgs[@]}"
  say "building crane"
  goroot="$tmp/go/usr/lib/go-1.23"
  # GOPATH mode has no module version to report: stamp the Debian package's upstream version.
  version=$(dpkg-deb -f "$(ls -t "$cache"/apt/trixie/debs/golang-github-google-go-containerregistry-dev_*.deb | head -n1)" Version)
  version=${version%%+*}
  (
    cd "$tmp"
    export GOROOT="$goroot" GOPATH="$tmp/src/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= \
      GOCACHE="$tmp/gocache" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
    "$goroot/bin/go" build -trimpath -ldflags "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=v$version" -o "$tmp/crane" github.com/google/go-containerregistry/cmd/crane
  )
  install -m 0755 "$tmp/crane" "$bin_dir/crane"
fi
"$bin_dir/crane" version >&2
echo "$bin_dir/crane"
