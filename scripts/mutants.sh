#!/usr/bin/env bash
# Mutation testing of the host-tested code: cargo-mutants changes `core`, `core/log` and the
# SDK's pure modules one small edit at a time (the selection and the build
# profile are in .cargo/mutants.toml) and every change must make a unit test
# fail, unless scripts/mutants-equivalent.txt lists it with the reason it cannot
# change behaviour. EDGEHOOK_SKIP_MUTANTS=1 skips it in quick local runs; CI=true
# runs it whatever that says.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

if [ "${EDGEHOOK_SKIP_MUTANTS:-}" = 1 ] && [ "${CI:-}" != true ]; then
  echo "mutants.sh: skipped (EDGEHOOK_SKIP_MUTANTS=1)"
  exit 0
fi

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -qF "$version"; then
  step "cargo install cargo-mutants $version"
  cargo install cargo-mutants --version "$version" --locked ||
    cargo install cargo-mutants --version "$version"
fi

equivalent=scripts/mutants-equivalent.txt
out="${CARGO_TARGET_DIR:-$EDGEHOOK_ROOT/target}/mutants"
results="$out/mutants.out"
rm -rf "$results"
mkdir -p "$out"

# Entries are "<file>: <mutation as cargo-mutants names it>  # <why it is equivalent>".
entries=$(grep -v -e '^#' -e '^[[:space:]]*$' "$equivalent" || true)
if [ -n "$entries" ] && grep -v -E ' # [^[:space:]]' <<<"$entries" >&2; then
  echo "mutants.sh: the entries above of $equivalent need a reason after ' # '" >&2
  exit 1
fi
listed="$out/equivalent.txt"
sed -E '/^$/d; s/[[:space:]]+# .*$//' <<<"$entries" | sort -u >"$listed"

# Property tests draw the same cases in every run and remember no failure from
# one mutant to the next, so a mutant is caught or not the same way each time
# (plain `cargo test` keeps drawing new cases).
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261130}"
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1

total=$(cargo mutants --list | wc -l)
step "cargo mutants: $total mutants in core, core/log and sdk-wasm, 2 at a time"
# Each job builds in its own copy of the tree with its own target directory: a
# shared CARGO_TARGET_DIR would make the two jobs wait on each other's lock.
start=$SECONDS
env -u CARGO_TARGET_DIR cargo mutants --jobs 2 --timeout 10 --output "$out" &
mutants_pid=$!
count() { cat "$results"/{caught,missed,timeout,unviable}.txt 2>/dev/null | wc -l; }
ticks=0
while kill -0 "$mutants_pid" 2>/dev/null; do
  sleep 2
  ticks=$((ticks + 1))
  if [ $((ticks % 30)) = 0 ]; then
    echo "mutants.sh: $(count) of $total tested after $((SECONDS - start)) s"
  fi
done
rc=0
wait "$mutants_pid" || rc=$?
# 2: some mutants survived, 3: some timed out (a hang is a caught mutant); both are judged below.
case $rc in
  0 | 2 | 3) ;;
  *) echo "mutants.sh: cargo mutants failed (exit $rc); see $results/debug.log" >&2; exit "$rc" ;;
esac

# Survivors without line and column, which move with every edit above them.
n() { { cat "$results/$1.txt" 2>/dev/null || true; } | grep -c . || true; }
survived="$out/survived.txt"
{ cat "$results/missed.txt" 2>/dev/null || true; } |
  sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /' | sort >"$survived"
unlisted=$(sort -u "$survived" | comm -23 - "$listed")
stale=$(sort -u "$survived" | comm -13 - "$listed")
if [ -n "$stale" ]; then
  echo "mutants.sh: listed in $equivalent but no longer surviving (remove them):"
  sed 's/^/  /' <<<"$stale"
fi
# One name can stand for several mutants (the same edit twice in one function).
not_listed=$(grep -c -v -x -F -f "$listed" "$survived" || true)
elapsed=$((SECONDS - start))
printf 'mutants: %s total, %s caught, %s timed out, %s unviable, %s survived (%s listed as equivalent, %s not listed) in %dm%02ds\n' \
  "$total" "$(n caught)" "$(n timeout)" "$(n unviable)" "$(n missed)" \
  "$(($(n missed) - not_listed))" "$not_listed" $((elapsed / 60)) $((elapsed % 60))
if [ -n "$unlisted" ]; then
  echo "mutants.sh: these mutants survived: add a test that catches each, or list it in $equivalent with its reason" >&2
  sed 's/^/  /' <<<"$unlisted" >&2
  exit 1
fi
