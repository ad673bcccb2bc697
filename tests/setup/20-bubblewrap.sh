#!/usr/bin/env bash
# bubblewrap (bwrap): the build sandbox `cratemill build` runs build scripts and smoke runs in
# (src/builder/sandbox.rs, docs/security.md). Idempotent: skips apt when it is installed. Then checks
# that it can make namespaces here, and says what to do when it cannot.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' bubblewrap 2>/dev/null | grep -q "install ok installed"; then
  echo "installing: bubblewrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null
fi
if ! bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib \
    --symlink usr/lib64 /lib64 --proc /proc --dev /dev /usr/bin/true; then
  echo "bwrap is installed but cannot create namespaces here." >&2
  if [[ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" == 1 ]]; then
    echo "AppArmor restricts unprivileged user namespaces: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" >&2
  fi
  exit 1
fi
