#!/usr/bin/env bash
# Drives the simulators with the clouds' own command-line clients, installed
# from their registries into a scratch directory (not part of CI):
#   - Outscale's `osc-cli` (PyPI package osc-sdk), which sends
#     `//api/latest/<Action>` signed over `/api/latest/<Action>`;
#   - Triton's `triton` (npm package triton, node-triton): datacenters,
#     instance create/list/rename/reboot/audit/delete against the Triton
#     simulator, with its generated key;
#   - node-manta (npm package manta): mmkdir -p, mput, mls, mget, minfo, mrm
#     against the Manta the Triton simulator serves, with the same key
#     (scripts/test.sh runs this one).
# The npm clients are installed once, pinned, into
# $IMAGEBAKE_NPM_CACHE (default ~/.cache/imagebake/npm) and reused from
# there. A client that cannot be installed because its registry cannot be
# reached (no network, no npm) is reported as SKIPPED, not failed; one whose
# install fails otherwise fails the script, as does any command of an
# installed client. Usage: bash scripts/sim-real-clients.sh [osc|triton|manta]...
# IMAGEBAKE_SIM=path uses that simulator binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

WHICH=("$@")
[ ${#WHICH[@]} -eq 0 ] && WHICH=(osc triton manta)
SCRATCH=$(mktemp -d /tmp/imagebake-real-clients.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

SIM=${IMAGEBAKE_SIM:-}
if [ -z "$SIM" ]; then
    echo "== building the simulator binary"
    cargo build --quiet -p imagebake-sim --bin imagebake-sim
    SIM="${CARGO_TARGET_DIR:-target}/debug/imagebake-sim"
fi

# Starts `imagebake-sim --cloud $1` (in this shell, so the cleanup knows
# its pid) and sets LINE to its JSON line.
start_sim() {
    local out="$SCRATCH/$1.json"
    "$SIM" --cloud "$1" --port 0 >"$out" 2>"$SCRATCH/$1.err" &
    PIDS+=($!)
    for _ in $(seq 1 300); do
        if [ -s "$out" ]; then
            LINE=$(head -n1 "$out")
            return 0
        fi
        sleep 0.1
    done
    echo "imagebake-sim --cloud $1 printed no line" >&2
    cat "$SCRATCH/$1.err" >&2
    return 1
}

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

NPM_CACHE=${IMAGEBAKE_NPM_CACHE:-${XDG_CACHE_HOME:-${HOME:-$PWD/target}/.cache}/imagebake/npm}

# Installs the npm package $1 at the pinned version $2 into
# $NPM_CACHE/$1-$2 unless it is there already (a warm run asks npm
# nothing), and sets NPM_DIR to that directory. Returns 2 when npm is
# missing or the registry cannot be reached (the caller skips), 1 when the
# install failed otherwise (the caller fails).
npm_client() {
    NPM_DIR="$NPM_CACHE/$1-$2"
    [ -f "$NPM_DIR/.installed" ] && return 0
    if ! command -v npm >/dev/null; then
        echo "npm is not installed" >&2
        return 2
    fi
    local tmp
    mkdir -p "$NPM_CACHE" && tmp=$(mktemp -d "$NPM_CACHE/.$1-$2.XXXXXX") || return 1
    # Its own project root: npm would otherwise install into a parent that has one.
    echo '{"private": true}' >"$tmp/package.json"
    if ! (cd "$tmp" && npm install --silent --no-audit --no-fund --no-save "$1@$2") \
        >"$SCRATCH/npm-$1.log" 2>&1; then
        rm -rf "$tmp"
        if ! timeout 60 npm view "$1@$2" version >/dev/null 2>&1; then
            echo "the npm registry cannot be reached" >&2
            return 2
        fi
        echo "npm install $1@$2 failed:" >&2
        cat "$SCRATCH/npm-$1.log" >&2
        return 1
    fi
    touch "$tmp/.installed"
    # Another run may have finished first: keep its copy.
    mv -T "$tmp" "$NPM_DIR" 2>/dev/null || rm -rf "$tmp"
}

run_osc() {
    echo "== osc-cli (PyPI osc-sdk) against the Outscale simulator"
    if ! python3 -m venv "$SCRATCH/osc-venv" \
        || ! "$SCRATCH/osc-venv/bin/pip" install --quiet --disable-pip-version-check osc-sdk==1.11.0; then
        echo "SKIPPED osc: osc-sdk could not be installed"
        return 0
    fi
    local line home
    start_sim osc
    line=$LINE
    home="$SCRATCH/osc-home"
    mkdir -p "$home/.osc"
    cat >"$home/.osc/config.json" <<EOF
{"default": {"access_key": "$(field "$line" access_key)", "secret_key": "$(field "$line" secret_key)",
  "endpoint": "$(field "$line" endpoint)", "region_name": "$(field "$line" region)"}}
EOF
    local osc=(env HOME="$home" "$SCRATCH/osc-venv/bin/osc-cli" api)
    "${osc[@]}" ReadAccounts | tee "$SCRATCH/accounts.json"
    grep -q '"AccountId"' "$SCRATCH/accounts.json"
    "${osc[@]}" CreateVolume --SubregionName "$(field "$line" region)a" --Size 1 | tee "$SCRATCH/volume.json"
    local vol
    vol=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Volume"]["VolumeId"])' "$SCRATCH/volume.json")
    "${osc[@]}" ReadVolumes --Filters "{\"VolumeIds\": [\"$vol\"]}" >"$SCRATCH/volumes.json"
    grep -q "$vol" "$SCRATCH/volumes.json"
    "${osc[@]}" DeleteVolume --VolumeId "$vol" >/dev/null
    # A wrong secret is refused with the gateway's error body.
    sed -i 's/"secret_key": "[^"]*"/"secret_key": "wrong"/' "$home/.osc/config.json"
    if "${osc[@]}" ReadAccounts >"$SCRATCH/denied.txt" 2>&1; then
        echo "osc-cli with a wrong secret key succeeded" >&2
        return 1
    fi
    grep -q "status = 401" "$SCRATCH/denied.txt"
    echo "osc: OK"
}

run_triton() {
    echo "== node-triton (npm triton) against the Triton simulator"
    local rc=0
    npm_client triton 7.17.0 || rc=$?
    if [ "$rc" -eq 2 ]; then
        echo "SKIPPED triton: npm or its registry cannot be reached"
        return 0
    fi
    [ "$rc" -eq 0 ] || return 1
    local line home key
    start_sim triton
    line=$LINE
    home="$SCRATCH/triton-home"
    mkdir -p "$home/.ssh"
    key=$(field "$line" private_key_path)
    cp "$key" "$home/.ssh/id_ed25519"
    cp "$key.pub" "$home/.ssh/id_ed25519.pub"
    chmod 600 "$home/.ssh/id_ed25519"
    local triton=(env -u SSH_AUTH_SOCK HOME="$home" TRITON_URL="$(field "$line" url)"
        TRITON_ACCOUNT="$(field "$line" account)" TRITON_KEY_ID="$(field "$line" key_id)"
        "$NPM_DIR/node_modules/.bin/triton")
    "${triton[@]}" datacenters
    "${triton[@]}" datacenters -j >"$SCRATCH/dcs.json"
    grep -q imagebake-sim-1 "$SCRATCH/dcs.json"
    "${triton[@]}" instance create -w -n real-1 base-64-lts g1.small
    "${triton[@]}" instance list
    "${triton[@]}" instance list -j >"$SCRATCH/list.json"
    grep -q '"name":"real-1"' "$SCRATCH/list.json"
    "${triton[@]}" instance rename -w real-1 real-2
    "${triton[@]}" instance get real-2 >/dev/null
    "${triton[@]}" instance stop -w real-2
    "${triton[@]}" instance start -w real-2
    "${triton[@]}" instance reboot -w real-2
    "${triton[@]}" instance audit real-2 | tee "$SCRATCH/audit.txt"
    grep -q rename "$SCRATCH/audit.txt"
    grep -q reboot "$SCRATCH/audit.txt"
    "${triton[@]}" instance delete -w -f real-2
    "${triton[@]}" instance list -j >"$SCRATCH/list.json"
    if grep -q real-2 "$SCRATCH/list.json"; then
        echo "real-2 still listed after delete" >&2
        return 1
    fi
    echo "triton: OK"
}

run_manta() {
    echo "== node-manta (npm manta) against the Manta of the Triton simulator"
    local rc=0
    npm_client manta 5.4.2 || rc=$?
    if [ "$rc" -eq 2 ]; then
        echo "SKIPPED manta: npm or its registry cannot be reached"
        return 0
    fi
    [ "$rc" -eq 0 ] || return 1
    local line home key bin
    start_sim triton
    line=$LINE
    home="$SCRATCH/manta-home"
    mkdir -p "$home/.ssh"
    key=$(field "$line" private_key_path)
    cp "$key" "$home/.ssh/id_ed25519"
    cp "$key.pub" "$home/.ssh/id_ed25519.pub"
    chmod 600 "$home/.ssh/id_ed25519"
    bin="$NPM_DIR/node_modules/manta/bin"
    local env=(env -u SSH_AUTH_SOCK HOME="$home" MANTA_URL="$(field "$line" manta_url)"
        MANTA_USER="$(field "$line" account)" MANTA_KEY_ID="$(field "$line" key_id)")
    echo "hello from node-manta" >"$SCRATCH/hello.txt"
    "${env[@]}" "$bin/mmkdir" -p '~~/stor/real/dir'
    "${env[@]}" "$bin/mput" -f "$SCRATCH/hello.txt" '~~/stor/real/dir/hello.txt'
    "${env[@]}" "$bin/mls" -l '~~/stor/real/dir' | tee "$SCRATCH/mls.txt"
    grep -q hello.txt "$SCRATCH/mls.txt"
    "${env[@]}" "$bin/mget" -o "$SCRATCH/back.txt" '~~/stor/real/dir/hello.txt'
    cmp "$SCRATCH/hello.txt" "$SCRATCH/back.txt"
    "${env[@]}" "$bin/minfo" '~~/stor/real/dir/hello.txt' | grep -qi '^content-md5:'
    "${env[@]}" "$bin/mrm" '~~/stor/real/dir/hello.txt'
    # A key Manta does not know is refused with muskie's code.
    local stranger="$SCRATCH/stranger-home"
    mkdir -p "$stranger/.ssh"
    ssh-keygen -q -t ed25519 -N '' -f "$stranger/.ssh/id_ed25519"
    local fp
    fp=$(ssh-keygen -l -E md5 -f "$stranger/.ssh/id_ed25519.pub" | awk '{print $2}' | sed 's/^MD5://')
    if "${env[@]}" HOME="$stranger" MANTA_KEY_ID="$fp" \
        "$bin/mls" '~~/stor/real' >"$SCRATCH/denied.txt" 2>&1; then
        echo "mls with an unknown key succeeded" >&2
        return 1
    fi
    grep -q KeyDoesNotExist "$SCRATCH/denied.txt"
    echo "manta: OK"
}

for w in "${WHICH[@]}"; do
    case "$w" in
        osc) run_osc ;;
        triton) run_triton ;;
        manta) run_manta ;;
        *) echo "unknown client $w (osc, triton, manta)" >&2; exit 2 ;;
    esac
done
