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
echo "isula-guest: booted in $(cat "$res/boot-seconds")s; the suite starts" >/dev/console
# The suite's lines go to suite.log and to the console, so a run that never ends still shows
# how far it got.
GUEST_FILTER=$(cat "$share/filter" 2>/dev/null) GUEST_TEST_LIMIT=$(cat "$share/test-limit" 2>/dev/null) \
  bash "$share/suite.sh" "$res" 2>&1 \
  | tee "$res/suite.log" >/dev/console
sync
