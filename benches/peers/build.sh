#!/usr/bin/env bash
# Builds the tools kspy is benchmarked against, pinned, from the Go module
# proxy, the way their users install them (`go install module@version`):
#   chainsaw       github.com/kyverno/chainsaw (chainsaw/go.mod)
#   kubectl-kuttl  github.com/kudobuilder/kuttl/cmd/kubectl-kuttl (kuttl/go.mod)
#   kubectl        k8s.io/kubernetes/cmd/kubectl (kubectl/go.mod), at the
#                  control plane's Kubernetes version with the same staging
#                  replaces as ci/controlplane/kube, so it reuses its Go build
#                  cache
# Each tool has its own module so its dependency versions are exactly the
# ones its release pins, not a union with the other tool's.
#
# chainsaw v0.2.12 and kuttl v0.22.0 do not compile with Go 1.25 or later:
# both run their tests through testing.MainStart with their own testDeps,
# and Go 1.25 added a method to that internal interface. So they are built
# with Go 1.24, the toolchain of their releases, which GOTOOLCHAIN fetches
# through the module proxy, as a user of either tool would do today.
peers_go=go1.24.9
#
# Binaries go to ~/.cache/kspy/peers/<hash>/bin; the last line of stdout is
# that directory. A warm run only prints it.
#
# Usage: benches/peers/build.sh [--print-dir]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kspy/peers"

hash=$({ echo "$peers_go"; cat "$here"/{chainsaw,kuttl,kubectl}/go.{mod,sum}; } | sha256sum | cut -c1-12)
bin="$cache_root/$hash/bin"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$bin"
  exit 0
fi

build() { # build <name> <module dir> <package> [GOTOOLCHAIN]
  local name=$1 dir=$2 package=$3 toolchain=${4:-local}
  [[ -x "$bin/$name" ]] && return 0
  echo "building $name in $(basename "$dir") (cold builds take minutes)..." >&2
  local started=$SECONDS
  (cd "$dir" && GOTOOLCHAIN=$toolchain CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$bin/.$name.tmp" "$package")
  mv "$bin/.$name.tmp" "$bin/$name"
  echo "built $name in $((SECONDS - started))s" >&2
}

mkdir -p "$bin"
build chainsaw "$here/chainsaw" github.com/kyverno/chainsaw "$peers_go"
build kubectl-kuttl "$here/kuttl" github.com/kudobuilder/kuttl/cmd/kubectl-kuttl "$peers_go"
build kubectl "$here/kubectl" k8s.io/kubernetes/cmd/kubectl
echo "$bin"
