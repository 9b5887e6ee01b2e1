#!/usr/bin/env bash
# Builds the Debian bookworm guest for scripts/guest-test.sh into directory $1:
# rootfs.img (ext4), vmlinuz and initrd.img. Run as root on the host; needs debootstrap and
# mke2fs. The mirror is the one apt on this host uses (MIRROR overrides it); apt's proxy
# setting, if any, is passed on as http_proxy. This file's text is part of the cache key.
set -euo pipefail
out=$1
mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
  # deb822 sources first (URIs: …), then one-line sources (deb URL suite …).
  mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -m1 -E '/debian/?$' || true)
  [ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    | awk '{print $2}' | grep -m1 -E '/debian/?$' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
proxy=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n1)
if [ -n "$proxy" ] && [ -z "${http_proxy:-}" ]; then export http_proxy=$proxy; fi

pkgs=systemd,systemd-sysv,dbus,udev,kmod,linux-image-amd64,initramfs-tools,runc,crun,
pkgs+=containernetworking-plugins,busybox-static,iproute2,iptables,procps,tar,ca-certificates
work=$(mktemp -d "${out%/}.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "guest: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Configuration: no network, no login prompt, the suite runner started at boot.
echo isula-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost isula-guest\n::1 localhost\n' >"$root/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"
ln -sf /dev/null "$root/etc/systemd/system/e2scrub_all.timer"
ln -sf /dev/null "$root/etc/systemd/system/fstrim.timer"
printf '9p\n9pnet\n9pnet_virtio\noverlay\n' >"$root/etc/modules-load.d/isula-guest.conf"
printf '9p\n9pnet\n9pnet_virtio\nvirtio_pci\nvirtio_blk\n' >>"$root/etc/initramfs-tools/modules"
cat >"$root/etc/systemd/system/isula-guest.service" <<'UNIT'
[Unit]
Description=isula guest suite
After=multi-user.target dbus.service systemd-modules-load.service
Wants=dbus.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /mnt/isula && mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 isula /mnt/isula && exec /bin/bash /mnt/isula/run-in-guest.sh'
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/isula-guest.service "$root/etc/systemd/system/multi-user.target.wants/isula-guest.service"
chroot "$root" update-initramfs -u -k all >/dev/null 2>&1
cp -L "$root/vmlinuz" "$work/vmlinuz"
cp -L "$root/initrd.img" "$work/initrd.img"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
mke2fs -q -t ext4 -L isula-guest -d "$root" "$work/rootfs.img" 4G
mkdir -p "$out"
mv "$work/rootfs.img" "$work/vmlinuz" "$work/initrd.img" "$out/"
