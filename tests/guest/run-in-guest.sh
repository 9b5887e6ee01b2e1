#!/bin/bash
# Started at boot by isula-guest.service in the guest (see build-image.sh), with this
# directory (the host's share) mounted at /mnt/isula. Installs the binaries, runs the suite
# and leaves results/summary ("PASSED FAILED"); the unit powers the guest off afterwards.
set -u
share=/mnt/isula
res=$share/results
cut -d' ' -f1 /proc/uptime >"$res/boot-seconds"
install -m 0755 "$share"/bin/* /usr/local/bin/
export PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
GUEST_FILTER=$(cat "$share/filter" 2>/dev/null) bash "$share/suite.sh" "$res" >"$res/suite.log" 2>&1
sync
