#!/bin/sh
# Build the binary package kpiwatch_VERSION_ARCH.deb with dpkg-deb from a
# built binary: the binary, /etc/kpiwatch/kpiwatch.json as a conffile, the
# hardened systemd unit, the man page, the README and the examples. The
# state directory comes from the unit's StateDirectory=.
# Usage: build-deb.sh BINARY VERSION OUTDIR (make deb calls it)
set -eu
bin=$1
version=$2
outdir=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/kpiwatch-deb-XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root

install -d "$root/DEBIAN" "$root/usr/bin" "$root/etc/kpiwatch" "$root/lib/systemd/system" \
    "$root/usr/share/man/man1" "$root/usr/share/doc/kpiwatch" "$root/usr/share/kpiwatch/examples"
install -m 0755 "$bin" "$root/usr/bin/kpiwatch"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/kpiwatch"
# The shipped config with its state in the unit's StateDirectory.
sed 's|"state_dir": ""|"state_dir": "/var/lib/kpiwatch"|' "$top/conf/kpiwatch.json" >"$root/etc/kpiwatch/kpiwatch.json"
chmod 0644 "$root/etc/kpiwatch/kpiwatch.json"
grep -q '"/var/lib/kpiwatch"' "$root/etc/kpiwatch/kpiwatch.json" || { echo "build-deb: conf/kpiwatch.json has no empty state_dir to set" >&2; exit 1; }
sed 's|/usr/local/bin|/usr/bin|g' "$top/packaging/systemd/kpiwatch.service" >"$root/lib/systemd/system/kpiwatch.service"
chmod 0644 "$root/lib/systemd/system/kpiwatch.service"
sed "s|/usr/local/share/doc|/usr/share/doc|g" "$top/packaging/man/kpiwatch.1" | gzip -9n >"$root/usr/share/man/man1/kpiwatch.1.gz"
gzip -9n <"$top/README.md" >"$root/usr/share/doc/kpiwatch/README.md.gz"
install -m 0644 "$top"/conf/examples/*.json "$root/usr/share/kpiwatch/examples/"
chmod 0644 "$root/usr/share/man/man1/kpiwatch.1.gz" "$root/usr/share/doc/kpiwatch/README.md.gz"

# Depends from the libraries the binary links, as dh_shlibdeps would.
mkdir -p "$stage/src/debian"
cp "$here/control" "$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O -e"$root/usr/bin/kpiwatch" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: kpiwatch
Version: $version
Architecture: $arch
Maintainer: kpiwatch maintainers <maintainers@kpiwatch.invalid>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: anomaly detection and alerting for customer-journey KPIs
$(sed -n '/^Description:/,$p' "$here/control" | tail -n +2)
CONTROL
echo /etc/kpiwatch/kpiwatch.json >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$outdir"
deb="$outdir/kpiwatch_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
