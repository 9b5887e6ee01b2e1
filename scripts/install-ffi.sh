#!/bin/sh
# Install libisula for C programs:
#   PREFIX/lib/libisula.so.0 (+ libisula.so -> libisula.so.0), PREFIX/lib/libisula.a,
#   PREFIX/include/isula.h, PREFIX/include/isula.hpp (C++17 wrapper), PREFIX/lib/pkgconfig/isula.pc
#
# isula.pc's Libs.private is the real static link line: the native libraries rustc reports
# for libisula.a (`cargo rustc -p isula-ffi --crate-type staticlib -- --print native-static-libs`).
#
# usage: scripts/install-ffi.sh PREFIX
#   ISULA_LIB_DIR=dir  take libisula.so/libisula.a from dir (e.g. target/debug) instead of
#                      building them with `cargo build --release -p isula-ffi`.
#   ISULA_NATIVE_LIBS="-lfoo ..."  the static link line to record instead of asking rustc
#                      (e.g. when cargo is not at hand).
#   DESTDIR=dir        stage under dir (packaging); isula.pc still says PREFIX.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
prefix=$1
case "$prefix" in
    /*) ;;
    *) echo "$0: PREFIX must be an absolute path, got '$prefix'" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")/.." && pwd)
destdir=${DESTDIR:-}

if [ -n "${ISULA_LIB_DIR:-}" ]; then
    libdir_src=$ISULA_LIB_DIR
else
    (cd "$src" && cargo build --release -p isula-ffi)
    libdir_src=$src/target/release
fi
for f in libisula.so libisula.a; do
    if [ ! -f "$libdir_src/$f" ]; then
        echo "$0: $libdir_src/$f not found (build isula-ffi first)" >&2
        exit 1
    fi
done

# The native libraries of the static library, as rustc reports them ("note: native-static-libs: ...").
native_libs() {
    profile_flag=--release
    case "$libdir_src" in */debug|*/debug/) profile_flag= ;; esac
    (cd "$src" && cargo rustc -p isula-ffi --lib --crate-type staticlib $profile_flag -- --print native-static-libs 2>&1) |
        sed -n 's/.*native-static-libs: *//p' | tail -n 1
}
if [ -n "${ISULA_NATIVE_LIBS:-}" ]; then
    libs_private=$ISULA_NATIVE_LIBS
else
    libs_private=$(native_libs)
fi
if [ -z "$libs_private" ]; then
    echo "$0: could not get the static link line from rustc (set ISULA_NATIVE_LIBS)" >&2
    exit 1
fi

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$src/Cargo.toml")
lib=$destdir$prefix/lib
inc=$destdir$prefix/include
pc=$lib/pkgconfig
install -d "$lib" "$inc" "$pc"
install -m 0755 "$libdir_src/libisula.so" "$lib/libisula.so.0"
ln -sf libisula.so.0 "$lib/libisula.so"
install -m 0644 "$libdir_src/libisula.a" "$lib/libisula.a"
install -m 0644 "$src/include/isula.h" "$inc/isula.h"
install -m 0644 "$src/include/isula.hpp" "$inc/isula.hpp"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@LIBS_PRIVATE@|$libs_private|g" \
    "$src/isula-ffi/isula.pc.in" > "$pc/isula.pc.tmp"
chmod 0644 "$pc/isula.pc.tmp"
mv "$pc/isula.pc.tmp" "$pc/isula.pc"
echo "installed libisula $version under $destdir$prefix"
