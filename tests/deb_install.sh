#!/bin/sh
# The Debian package as a board owner gets it: dpkg-deb reads it, lintian
# reports no error, and installed into a scratch root (dpkg --root; the
# maintainer scripts run outside a chroot with DPKG_ROOT set) its pdvm runs
# `info`, its man page covers every command, its systemd unit verifies, and
# a program built against its header, pdvm.pc and libpdvm.so runs; removal
# and purge leave nothing of it. A package for another architecture runs
# through $PDVM_RUNNER (an emulator) and is built against with $CC.
# Usage: tests/deb_install.sh PACKAGE.deb
set -eu
deb=$1
cc=${CC:-cc}
fail() { echo "deb_install: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== dpkg-deb --info $deb"
dpkg-deb --info "$deb" > "$tmp/info" || fail "dpkg-deb --info rejects $deb"
cat "$tmp/info"
field() { sed -n "s/^ $1: //p" "$tmp/info"; }
[ "$(field Package)" = pdvm ] || fail "Package is not pdvm"
arch=$(field Architecture)
field Depends | grep -q 'libc6' || fail "Depends lacks libc6"
ma=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)

echo "== lintian (errors fail)"
lintian --fail-on error "$deb" || fail "lintian reports errors"

echo "== contents"
dpkg-deb --contents "$deb" > "$tmp/contents"
for f in usr/bin/pdvm "usr/lib/$ma/libpdvm.so.0" "usr/lib/$ma/libpdvm.so" "usr/lib/$ma/libpdvm.a" \
         usr/include/pdvm.h "usr/lib/$ma/pkgconfig/pdvm.pc" usr/share/man/man1/pdvm.1.gz \
         lib/systemd/system/pdvm.service etc/default/pdvm usr/lib/sysusers.d/pdvm.conf \
         usr/share/doc/pdvm/copyright usr/share/doc/pdvm/changelog.gz; do
    grep -q " \./$f\( -> .*\)\?$" "$tmp/contents" || fail "$f is not in the package"
done

echo "== dpkg --root=<scratch> -i"
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info" "$root/etc"
touch "$root/var/lib/dpkg/status"
dpkg="dpkg --root=$root --log=/dev/null --force-not-root --force-script-chrootless --force-depends"
[ "$arch" = "$(dpkg --print-architecture)" ] || $dpkg --add-architecture "$arch"
$dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i failed"; }
$dpkg -s pdvm | grep -q '^Status: install ok installed$' || fail "not installed"
if command -v systemd-sysusers >/dev/null 2>&1; then
    grep -q '^pdvm:' "$root/etc/passwd" || fail "postinst did not create the pdvm user"
fi

echo "== the installed pdvm: info --json"
out=$(${PDVM_RUNNER:-} "$root/usr/bin/pdvm" info --json) || fail "pdvm info failed: $out"
printf '%s\n' "$out"
renderer=$(printf '%s\n' "$out" | sed -n 's/^ *"renderer":"\(.*\)",$/\1/p')
[ -n "$renderer" ] || fail "no renderer in pdvm info --json"

echo "== man page: every command of --help"
zcat "$root/usr/share/man/man1/pdvm.1.gz" > "$tmp/pdvm.1"
head -1 "$tmp/pdvm.1" | grep -q '^\.TH PDVM 1 ' || fail "no .TH line"
for c in $(${PDVM_RUNNER:-} "$root/usr/bin/pdvm" --help | sed -n '/^commands:/,$ s/^  \([a-z][a-z0-9-]*\)  .*/\1/p'); do
    grep -q "^\.SS pdvm $c\$" "$tmp/pdvm.1" || fail "man page lacks command $c"
done

echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify --man=no "$root/lib/systemd/system/pdvm.service" || fail "unit does not verify"
else
    echo "systemd-analyze not installed: unit not verified"
fi

echo "== a program built against the installed header, pdvm.pc and libpdvm.so"
cat > "$tmp/use.c" <<'C'
#include <pdvm.h>
#include <stdio.h>
int main(void)
{
    pdvm_device *d = NULL;
    if (pdvm_device_open(NULL, &d) != PDVM_OK) {
        fprintf(stderr, "%s\n", pdvm_last_error());
        return 1;
    }
    printf("%s\n", pdvm_device_get_info(d)->renderer);
    pdvm_device_close(d);
    return 0;
}
C
flags=$(PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig ${PKG_CONFIG:-pkg-config} \
        --define-variable=prefix="$root/usr" --cflags --libs pdvm) || fail "pkg-config: no pdvm.pc"
printf '%s\n' "$flags" | grep -q -- "-I$root/usr/include .*-L$root/usr/lib/$ma -lpdvm" ||
    fail "pdvm.pc gives: $flags"
$cc -std=c11 -Wall -Werror -o "$tmp/use" "$tmp/use.c" $flags || fail "does not build: $flags"
readelf -d "$tmp/use" | grep -q 'NEEDED.*\[libpdvm\.so\.0\]' || fail "not linked to libpdvm.so.0"
got=$(LD_LIBRARY_PATH=$root/usr/lib/$ma ${PDVM_RUNNER:-} "$tmp/use") || fail "program failed"
[ "$got" = "$renderer" ] || fail "program saw '$got', pdvm info '$renderer'"

echo "== remove, purge"
$dpkg -r pdvm
[ ! -e "$root/usr/bin/pdvm" ] || fail "pdvm left after remove"
[ -e "$root/etc/default/pdvm" ] || fail "conffile gone before purge"
$dpkg -P pdvm
[ ! -e "$root/etc/default/pdvm" ] || fail "conffile left after purge"
echo "deb_install: $deb ($arch) passed"
