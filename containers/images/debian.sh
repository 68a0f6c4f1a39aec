#!/usr/bin/env bash
# Image recipe: a Debian root filesystem holding that release's packaged Nix.
#
#   debian.sh SUITE MIRROR ROOTFS
#
# gnfc runs this as root and then `podman import`s ROOTFS. The recipe's hash (this file plus its
# arguments) tags the image, so changing either rebuilds it and nothing else does.
#
# debootstrap's own dependency resolver cannot install nix-bin (it does not understand virtual
# packages such as perl-dbdabi-94), so the base system comes from debootstrap and the rest from
# apt inside it.
set -euo pipefail
suite=$1 mirror=$2 rootfs=$3

echo "step: debootstrap $suite"
# A mirror caught mid-update can serve a Release file that does not verify; try again.
for attempt in 1 2 3; do
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" && break
  [ "$attempt" = 3 ] && exit 1
  echo "debootstrap failed (attempt $attempt of 3); retrying in 5 s"
  rm -rf "$rootfs"
  sleep 5
done

echo "step: apt-get install nix-bin"
# Packages' maintainer scripts must not start services in the chroot.
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
mount -t proc proc "$rootfs/proc"
trap 'umount "$rootfs/proc" 2>/dev/null || true' EXIT
# nix-bin is what is under test; git because Nix shells out to it for flakes in git trees;
# ca-certificates so TLS works (the proxy's CA is added per test); socat relays the container's
# loopback to gnfc's proxy socket, the container's only way out.
chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends nix-bin git ca-certificates socat
umount "$rootfs/proc"
trap - EXIT

echo "step: trim"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/locale/* "$rootfs/usr/sbin/policy-rc.d"
# Nix's state starts empty in every container; the image only carries the binaries.
rm -rf "$rootfs/nix"
mkdir -p "$rootfs/nix"
chroot "$rootfs" nix-env --version 2>/dev/null | sed 's/^/nix: /' || true
