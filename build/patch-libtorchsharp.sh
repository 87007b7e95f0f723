#!/usr/bin/env bash
# patch-libtorchsharp.sh SRC_SO OUT_DIR
#
# Makes TorchSharp's native glue library load on Debian 12 (GCC 12 libstdc++).
# Called by build/LibTorchSharp.targets (target PatchLibTorchSharp) on every build of a project
# that imports it; safe to run by hand.
#
# TorchSharp 0.107.0's libLibTorchSharp.so was linked against GCC 13's libstdc++ and
# therefore asks for GLIBCXX_3.4.32, for exactly one symbol: _ZSt21ios_base_library_initv,
# a no-op iostream initializer that GCC 13 headers reference only to force that version
# dependency (no relocation uses it). Debian 12's libstdc++ stops at GLIBCXX_3.4.30, so
# dlopen fails with "version `GLIBCXX_3.4.32' not found".
#
# This script writes a patched COPY to OUT_DIR (the NuGet cache is never touched):
#   OUT_DIR/libLibTorchSharp.so               the patched copy
#   OUT_DIR/libios_base_library_init_stub.so  tiny library defining the empty function
# Patch steps on the copy:
#   1. patchelf --add-needed libios_base_library_init_stub.so  (found through the
#      library's own RUNPATH $ORIGIN/, so the stub must sit beside it, which the
#      MSBuild target arranges)
#   2. patchelf --clear-symbol-version _ZSt21ios_base_library_initv
#   3. rewrite the GLIBCXX_3.4.32 entry of .gnu.version_r (vna_hash and vna_name) into a
#      copy of a GLIBCXX version the library already needs from libstdc++ (3.4.30 preferred),
#      so the loader's version check no longer asks for 3.4.32.
# The result also loads on systems whose libstdc++ does have GLIBCXX_3.4.32.
#
# Idempotent: a marker (sha256 of source, script and outputs) makes a rerun a no-op.
# Needs: bash, coreutils, binutils (readelf/objdump), cc, patchelf. patchelf is installed
# with apt-get when missing and running as root; otherwise the script stops with a message.
set -euo pipefail

SYM=_ZSt21ios_base_library_initv
BAD_VERSION=GLIBCXX_3.4.32
STUB_NAME=libios_base_library_init_stub.so
LIB_NAME=libLibTorchSharp.so

die() { echo "patch-libtorchsharp: error: $*" >&2; exit 1; }
log() { echo "patch-libtorchsharp: $*"; }

[ $# -eq 2 ] || die "usage: $0 SRC_SO OUT_DIR"
SRC=$1
OUT_DIR=${2%/}
[ -f "$SRC" ] || die "source library not found: $SRC"
mkdir -p "$OUT_DIR"

OUT_LIB=$OUT_DIR/$LIB_NAME
OUT_STUB=$OUT_DIR/$STUB_NAME
MARKER=$OUT_DIR/.patched

for tool in readelf objdump sha256sum od dd awk; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (Debian: apt-get install -y binutils coreutils gawk)"
done

# ---- idempotency ---------------------------------------------------------------------
SELF_SHA=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
SRC_SHA=$(sha256sum "$SRC" | cut -d' ' -f1)
expected_marker() {
  echo "src=$SRC_SHA script=$SELF_SHA lib=$(sha256sum "$OUT_LIB" | cut -d' ' -f1) stub=$(sha256sum "$OUT_STUB" | cut -d' ' -f1)"
}
if [ -f "$MARKER" ] && [ -f "$OUT_LIB" ] && [ -f "$OUT_STUB" ] \
   && [ "$(cat "$MARKER")" = "$(expected_marker)" ]; then
  touch "$OUT_LIB" "$OUT_STUB"   # keep MSBuild's Inputs/Outputs check satisfied
  log "already patched: $OUT_LIB"
  exit 0
fi

# ---- tools -----------------------------------------------------------------------------
CC_BIN=$(command -v cc || command -v gcc || command -v clang || true)
[ -n "$CC_BIN" ] || die "a C compiler (cc/gcc) is required to build $STUB_NAME (Debian: apt-get install -y gcc)"

if ! command -v patchelf >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "patchelf missing: installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    ok=
    apt_log=$(mktemp)
    for attempt in 1 2 3; do   # apt locks may be held by a concurrent install
      if { apt-get -o DPkg::Lock::Timeout=300 update \
           && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends patchelf; } >"$apt_log" 2>&1; then
        ok=1; break
      fi
      log "apt-get failed (attempt $attempt), retrying in 15 s"; sleep 15
    done
    [ -n "$ok" ] || { cat "$apt_log" >&2; rm -f "$apt_log"; die "could not install patchelf with apt-get"; }
    rm -f "$apt_log"
    command -v patchelf >/dev/null 2>&1 || die "apt-get succeeded but patchelf is still not on PATH"
    log "installed $(patchelf --version)"
  else
    die "patchelf is not installed and this is not a root Debian shell; install it (sudo apt-get install -y patchelf) and rebuild"
  fi
fi

# ---- patch a private copy --------------------------------------------------------------
TMP=$(mktemp -d "$OUT_DIR/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LIB=$TMP/$LIB_NAME
cp "$SRC" "$LIB"          # a fresh inode: never a hard link into the NuGet cache
chmod u+w "$LIB"

printf 'void %s(void) {}\n' "$SYM" > "$TMP/stub.c"
"$CC_BIN" -shared -fPIC -O2 -nostdlib -Wl,-soname,"$STUB_NAME" -o "$TMP/$STUB_NAME" "$TMP/stub.c" \
  || die "failed to compile $STUB_NAME"

needed=$(readelf -d "$LIB")
case $needed in *"[$STUB_NAME]"*) ;; *) patchelf --add-needed "$STUB_NAME" "$LIB" ;; esac

dynsyms=$(objdump -T "$LIB")
case $dynsyms in *"($BAD_VERSION) $SYM"*) patchelf --clear-symbol-version "$SYM" "$LIB" ;; esac

# Rewrite the Vernaux entry naming GLIBCXX_3.4.32 (Elf64_Vernaux: vna_hash@0 u32,
# vna_flags@4 u16, vna_other@6 u16, vna_name@8 u32, vna_next@12 u32) by copying vna_hash
# and vna_name from another GLIBCXX entry of the same libstdc++ Verneed record.
# readelf prints entry offsets relative to the section's file offset.
read -r SEC_OFF BAD_OFF DONOR_OFF DONOR_NAME < <(readelf -V -W "$LIB" | awk -v bad="$BAD_VERSION" '
  /^Version needs section/            { inneed = 1; next }
  /^Version (symbols|definition) section/ { inneed = 0 }
  inneed && $1 == "Addr:"             { for (i = 1; i <= NF; i++) if ($i == "Offset:") sec = $(i + 1); next }
  inneed && / File: /                 { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1); next }
  inneed && / Name: / && file ~ /^libstdc\+\+/ {
      off = $1; sub(":", "", off); name = $3
      if (name == bad) badoff = off
      else if (name ~ /^GLIBCXX_3\.4\.[0-9]+$/) {
        if (name == "GLIBCXX_3.4.30" || donor == "") { donor = off; dname = name }
      }
  }
  END { printf "%s %s %s %s\n", (sec ? sec : "-"), (badoff ? badoff : "-"), (donor ? donor : "-"), (dname ? dname : "-") }')

if [ "$BAD_OFF" != "-" ]; then
  [ "$SEC_OFF" != "-" ] && [ "$DONOR_OFF" != "-" ] \
    || die "cannot locate .gnu.version_r entries in $LIB (readelf output format changed?)"
  bad=$(( SEC_OFF + BAD_OFF ))
  donor=$(( SEC_OFF + DONOR_OFF ))
  for field in 0 8; do   # vna_hash, vna_name
    dd if="$LIB" of="$TMP/field" bs=1 skip=$(( donor + field )) count=4 status=none
    dd if="$TMP/field" of="$LIB" bs=1 seek=$(( bad + field )) count=4 conv=notrunc status=none
  done
  log "rewrote $BAD_VERSION version-need entry as $DONOR_NAME"
fi

# ---- verify ------------------------------------------------------------------------------
versions=$(readelf -V -W "$LIB")
case $versions in *"$BAD_VERSION"*) die "verification failed: $BAD_VERSION still required by the patched copy" ;; esac
dynsyms=$(objdump -T "$LIB")
case $dynsyms in *"($BAD_VERSION)"*) die "verification failed: a symbol still carries $BAD_VERSION" ;; esac
needed=$(readelf -d "$LIB")
case $needed in *"[$STUB_NAME]"*) ;; *) die "verification failed: $STUB_NAME not in NEEDED" ;; esac

# ---- install atomically ----------------------------------------------------------------------
mv -f "$TMP/$STUB_NAME" "$OUT_STUB"
mv -f "$LIB" "$OUT_LIB"
expected_marker > "$MARKER"
log "patched $SRC -> $OUT_LIB (+ $STUB_NAME)"
