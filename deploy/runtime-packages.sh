#!/bin/sh
# Prints the Debian packages that provide the shared libraries a binary loads, one per line:
# the runtime image installs exactly these (deploy/Dockerfile), so it never drifts from what the
# build links. Usage: deploy/runtime-packages.sh build/rvc-rt
set -eu
bin=${1:?usage: runtime-packages.sh BINARY}
[ -x "$bin" ] || { echo "runtime-packages.sh: $bin: not an executable" >&2; exit 2; }
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | while read -r lib; do
  real=$(readlink -f "$lib")
  # Debian 12 merges /lib into /usr/lib; dpkg knows each file under the path its package used.
  for p in "$real" "${real#/usr}" "$lib" "/usr$lib"; do
    if owner=$(dpkg-query -S "$p" 2>/dev/null); then
      echo "${owner%%[:,]*}"
      break
    fi
  done
done | sort -u
