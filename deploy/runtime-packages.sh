#!/bin/bash
# Prints the Debian packages that provide the shared libraries a binary loads, one per line:
# the runtime image installs exactly these (deploy/Dockerfile), so it never drifts from what the
# build links. A library no package owns (e.g. under /usr/local) is an error.
# Usage: deploy/runtime-packages.sh build/rvc-rt
set -euo pipefail
bin=${1:?usage: runtime-packages.sh BINARY}
[ -x "$bin" ] || { echo "runtime-packages.sh: $bin: not an executable" >&2; exit 2; }
mapfile -t libs < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
# Debian 12 merges /lib into /usr/lib; dpkg knows each file under the path its package used, so
# ask for every spelling at once (one dpkg-query call: each call reads the whole file database).
candidates=()
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  candidates+=("$lib" "$real" "${real#/usr}" "/usr$lib")
done
owners=$(dpkg-query -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion by ' || true)
owned=$(sed -E 's/^[^ ]*: //' <<<"$owners")
status=0
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  if ! printf '%s\n' "$lib" "$real" "${real#/usr}" "/usr$lib" | grep -qxFf - <(printf '%s\n' "$owned"); then
    echo "runtime-packages.sh: $lib: no Debian package owns it" >&2
    status=2
  fi
done
sed -E 's/[:,].*//' <<<"$owners" | sort -u
exit $status
