#!/usr/bin/env bash
# Clean debug builds of `topcalls-api` (default features) at two commits and of
# async-openai (latest, default features), side by side: one fresh
# CARGO_TARGET_DIR per build, the three alternating round by round, so that
# they share the machine's conditions. Prints one line per build and a summary.
#
#   tests/build-time.sh [ROUNDS] [BASE]      # default: 2 rounds, BASE = merge-base with main
#   PROFILE=release tests/build-time.sh 1    # the same with `cargo build --release`
#
# Every build runs as
#   CARGO_TARGET_DIR=<fresh> CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only \
#     nice -n 5 cargo build --offline --locked [-p topcalls-api]
# (the workspace's `[profile.dev] debug = "line-tables-only"` applied to async-openai too, and
# no incremental cache: how a dependency is built). Dependencies are fetched first, so no
# download is timed. Wall time depends on what else the machine runs; user+sys CPU time much
# less. Needs about 1.5 GB free in TMPDIR; each target dir is removed after its build.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-2}
profile=${PROFILE:-dev}
case "$profile" in
dev) profile_args=() ;;
release) profile_args=(--release) ;;
*) echo "PROFILE must be dev or release, not $profile" >&2; exit 2 ;;
esac
base=${2:-$(git merge-base HEAD main)}
work=$(mktemp -d "${TMPDIR:-/tmp}/topcalls-build-time.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The two trees, exported from git (the working tree is not used).
mkdir -p "$work/base" "$work/head"
git archive "$base" | tar -x -C "$work/base"
git archive HEAD | tar -x -C "$work/head"

# A throwaway crate depending on the latest async-openai (never committed).
version=$(cargo info async-openai 2>/dev/null | sed -n 's/^version: *//p' | head -n 1)
mkdir -p "$work/async-openai/src"
cat >"$work/async-openai/Cargo.toml" <<EOF
[package]
name = "async-openai-build-time"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
async-openai = "=$version"

[workspace]
EOF
echo 'pub use async_openai;' >"$work/async-openai/src/lib.rs"
(cd "$work/async-openai" && cargo generate-lockfile --quiet)

for dir in base head async-openai; do
    (cd "$work/$dir" && cargo fetch --locked --quiet)
done

crates() { # distinct crates in the normal dependency tree (the crate itself included)
    (cd "$work/$1" && cargo tree --offline --locked -e normal --prefix none "${@:2}" |
        sed 's/ (\*)$//' | sort -u | wc -l)
}
echo "commit base: $(git rev-parse --short "$base"), head: $(git rev-parse --short HEAD), async-openai $version, profile $profile"
echo "crates (cargo tree -e normal, distinct): base $(crates base -p topcalls-api)," \
    "head $(crates head -p topcalls-api), async-openai $(crates async-openai -p async-openai)"
echo
printf '%-6s %-13s %8s %8s %8s %6s %s\n' round build wall_s user_s sys_s units load1
for round in $(seq 1 "$rounds"); do
    for dir in base head async-openai; do
        target="$work/target-$dir-$round"
        args=("${profile_args[@]}" -p topcalls-api)
        [ "$dir" = async-openai ] && args=("${profile_args[@]}")
        load=$(cut -d' ' -f1 /proc/loadavg)
        cd "$work/$dir"
        /usr/bin/time -f '%e %U %S' -o "$work/time" \
            env CARGO_TARGET_DIR="$target" CARGO_INCREMENTAL=0 \
            CARGO_PROFILE_DEV_DEBUG=line-tables-only \
            nice -n 5 cargo build --offline --locked "${args[@]}" 2>"$work/log"
        cd - >/dev/null
        units=$(grep -c '^ *Compiling ' "$work/log")
        read -r wall user sys <"$work/time"
        printf '%-6s %-13s %8s %8s %8s %6s %s\n' "$round" "$dir" "$wall" "$user" "$sys" \
            "$units" "$load" | tee -a "$work/results"
        rm -rf "$target"
    done
done

echo
echo "over $rounds round(s): wall and user+sys CPU, min-max (mean)"
for dir in base head async-openai; do
    awk -v d="$dir" '$2 == d { n++; w = $3; c = $4 + $5; sw += w; sc += c
            if (n == 1 || w < wl) wl = w; if (n == 1 || w > wh) wh = w
            if (n == 1 || c < cl) cl = c; if (n == 1 || c > ch) ch = c }
        END { printf "%-13s wall %.1f-%.1f s (%.1f)   CPU %.1f-%.1f s (%.1f)\n", d, wl, wh, sw / n, cl, ch, sc / n }' \
        "$work/results"
done
