#!/usr/bin/env bash
# The shipped systemd unit stays hardened: `systemd-analyze security` (offline,
# no running systemd needed) rates it 2.0 or better, and it keeps the
# settings the README promises.
set -euo pipefail
cd "$(dirname "$0")/../.."
unit=packaging/systemd/kpiwatch.service
for want in DynamicUser=yes StateDirectory=kpiwatch ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
            PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service \
            'ExecReload=/bin/kill -HUP $MAINPID'; do
    grep -qxF "$want" "$unit" || { echo "$unit lacks $want"; exit 1; }
done
report=$(systemd-analyze security --offline=true "$PWD/$unit" 2>&1) || true
exposure=$(sed -n 's/.*Overall exposure level for kpiwatch.service: \([0-9.]*\).*/\1/p' <<<"$report")
[ -n "$exposure" ] || { echo "systemd-analyze gave no figure:"; echo "$report"; exit 1; }
echo "exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || { echo "$report" | grep -v '^✓'; exit 1; }
