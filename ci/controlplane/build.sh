#!/usr/bin/env bash
# Builds the local control plane from pinned Go modules, through the Go module
# proxy only:
#   kube  - kube-apiserver, kube-controller-manager and kube-scheduler in one
#           multicall binary (k8s.io/kubernetes, see kube/go.mod)
#   etcd  - etcd's server (go.etcd.io/etcd/server/v3, see etcd/go.mod)
#   kwok  - the kubelet simulator (sigs.k8s.io/kwok, see kwok/go.mod)
#   nodeagent - the Pod side of the simulated kubelet (kwok/nodeagent, same
#           module as kwok so it shares its client-go)
#
# The binaries go to a cache directory keyed by the pinned versions and a hash
# of the module files, so a second run with the cache present only prints the
# path. The last line of stdout is the bin directory.
#
# Usage: ci/controlplane/build.sh [--print-dir]
#   --print-dir  print the bin directory it would use and exit
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kspy/controlplane"

module_version() { # module_version <go.mod> <module path>: the required version
  awk -v m="$2" '{ if ($1 == "require") { $1 = "" ; $0 = $0 } } $1 == m { print $2; exit }' "$1"
}
kube_version=$(module_version "$here/kube/go.mod" k8s.io/kubernetes)
etcd_version=$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
kwok_version=$(module_version "$here/kwok/go.mod" sigs.k8s.io/kwok)
# Any edit to a module (a bumped dependency, a changed main.go) must give a
# new cache key, or a stale binary would be reused.
# The node agent's tests are left out: they do not change the binary.
module_hash=$({
  cat "$here"/{kube,etcd,kwok}/go.{mod,sum} "$here"/{kube,etcd}/main.go
  find "$here/kwok/nodeagent" -name '*.go' ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 cat
} | sha256sum | cut -c1-12)
key="kubernetes-${kube_version}_etcd-${etcd_version}_kwok-${kwok_version}_${module_hash}"
bin="$cache_root/$key/bin"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$bin"
  exit 0
fi

build() { # build <name> <module dir> <package>
  local name=$1 dir=$2 package=$3
  if [[ -x "$bin/$name" ]]; then
    return 0
  fi
  echo "building $name from $(basename "$dir")/go.mod (cold builds take minutes)..." >&2
  local started=$SECONDS
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$bin/.$name.tmp" "$package")
  mv "$bin/.$name.tmp" "$bin/$name"
  echo "built $name in $((SECONDS - started))s" >&2
}

mkdir -p "$bin"
build etcd "$here/etcd" .
build kwok "$here/kwok" sigs.k8s.io/kwok/cmd/kwok
build nodeagent "$here/kwok" ./nodeagent
build kube "$here/kube" .
echo "$bin"
