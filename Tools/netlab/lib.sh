# Shared helpers for the netlab scenarios (sourced, not run): the run's prefix and work
# directory, the teardown trap, starting the server and agents inside namespaces, polling the
# agents' view of their paths, and the result line. Every scenario sources it first.
#
# Environment: KITH (the kith binary; default .build-netlab/debug/kith, then .build/debug/kith),
# NETLAB_KEEP=1 keeps the work directory (logs, profiles) after the run.

set -euo pipefail

NETLAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$NETLAB_DIR/../.." && pwd)
LAB=$NETLAB_DIR/lab
SCENARIO=$(basename "$0")
if [[ -z ${KITH:-} ]]; then
    KITH=$REPO/.build-netlab/debug/kith
    [[ -x $KITH ]] || KITH=$REPO/.build/debug/kith
fi
# Python for the JSON answers: the system one starts in 0.1 s (a pyenv shim can take 0.7 s).
PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3

# Exit status 77: the lab cannot run here (the Swift tests skip on it).
skip() { echo "SKIP $SCENARIO: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces"
ip netns list >/dev/null 2>&1 || skip "ip netns is not available"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
[[ -x $KITH ]] || skip "no kith binary at $KITH (build it, or set KITH)"

# Unique per run, short (interface and socket path limits): a crashed run never collides.
export NETLAB_PREFIX=kl$$
WORK=$(mktemp -d "/tmp/$NETLAB_PREFIX.XXXX")
PIDS=()
STATUS=fail
# The script's own stdout and stderr, for the teardown: a signal can come while a helper's
# output is redirected (`wait_path … >/dev/null`), and the trap would inherit that.
exec 3>&1 4>&2

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
log() { printf '[%6.1f s] %s\n' "$(( $(now_ms) - T0 ))e-3" "$*"; }

# On any exit: agents and server stopped by their pids, namespaces deleted, and on failure the
# evidence (agent logs, `kith status --paths`) printed before the work directory goes.
teardown() {
    local rc=$?
    trap - EXIT INT TERM
    exec 1>&3 2>&4
    [[ $rc == 77 ]] && STATUS=skipped  # a missing tool found midway: nothing to show
    if [[ $STATUS == fail ]]; then
        echo "RESULT $SCENARIO FAILED (exit $rc)"
        echo "---- evidence from $WORK"
        for profile in "$WORK"/dev-*; do
            [[ -d $profile ]] || continue
            echo "---- kith status --paths --profile $profile"
            "$KITH" status --paths --profile "$profile" 2>&1 || true
            echo "---- $profile/agent.log (last 40 lines)"
            tail -n 40 "$profile/agent.log" 2>/dev/null || true
        done
        [[ -f $WORK/server.log ]] && { echo "---- server.log (last 20 lines)"; tail -n 20 "$WORK/server.log"; }
    fi
    local pid
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$LAB" down || true
    if [[ ${NETLAB_KEEP:-} == 1 || $STATUS == fail ]] && [[ ${NETLAB_KEEP:-} != 0 ]]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Fails the scenario; on stderr, since helpers that print a number run in $( ).
fail() { echo "FAIL $SCENARIO: $*" >&2; exit 1; }

kith() { "$KITH" "$@"; }

# The server in PREFIX-srv on 100.64.0.1:7400 with account alice; sets INVITE and SERVER_PID.
PASSWORD_FILE=$WORK/password
start_server() {
    echo "correct horse" > "$PASSWORD_FILE"
    if [[ ! -d $WORK/server ]]; then
        kith server account add alice --data "$WORK/server" --password-file "$PASSWORD_FILE" >/dev/null
    fi
    ip netns exec "$NETLAB_PREFIX-srv" "$KITH" server --data "$WORK/server" --listen 100.64.0.1:7400 \
        >"$WORK/server.out" 2>>"$WORK/server.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 100); do
        INVITE=$(grep -m1 -o 'kith://[^ ]*' "$WORK/server.out" || true)
        [[ -n $INVITE ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "the server stopped: $(cat "$WORK/server.log")"
        sleep 0.1
    done
    fail "the server printed no invite in 10 s"
}

# `stop_pid PID`: SIGKILL to one process this run started, which then leaves the list.
stop_pid() {
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local kept=() pid
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
}

stop_server() { stop_pid "$SERVER_PID"; }

# `start_agent NAME`: an agent for profile $WORK/dev-NAME inside device namespace PREFIX-d-NAME,
# UDP on all its interfaces; returns once it answers on its socket.
start_agent() {
    local name=$1 profile=$WORK/dev-$1
    # LAN discovery talks to avahi over the D-Bus system bus, a file socket that namespaces do not
    # separate: a host avahi would announce on the host's network. Each agent gets its device's
    # own bus (started by a scenario that wants discovery), or none: discovery stays off.
    DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/bus-$name/socket \
        ip netns exec "$NETLAB_PREFIX-d-$name" "$KITH" agent --profile "$profile" --foreground --udp 0.0.0.0:0 \
        >"$WORK/agent-$name.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "AGENT_PID_$name=$pid"
    local i
    for i in $(seq 200); do
        grep -qs '^agent running' "$WORK/agent-$name.out" && return 0
        kill -0 "$pid" 2>/dev/null || fail "agent $name stopped: $(cat "$WORK/agent-$name.out")"
        sleep 0.05
    done
    fail "agent $name did not start in 10 s"
}

stop_agent() { stop_pid "$(eval echo "\$AGENT_PID_$1")"; }

# `start_avahi NAME`: a D-Bus system bus and an avahi-daemon of device NAME's own, inside its
# namespace, on its eth0 only (IPv4, no wide area); its agent finds the bus at $WORK/bus-NAME.
# avahi gets a private /run (unshare -m, tmpfs) so its pid file and socket do not collide.
start_avahi() {
    local name=$1 dir=$WORK/bus-$1 ns=$NETLAB_PREFIX-d-$1 i
    command -v avahi-daemon >/dev/null && command -v dbus-daemon >/dev/null || skip "avahi-daemon or dbus-daemon missing"
    mkdir -p "$dir"
    sed -e "s|<listen>.*</listen>|<listen>unix:path=$dir/socket</listen>|" \
        -e 's|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|' \
        -e '/<fork\/>/d' -e '/<pidfile>/d' -e '/<syslog\/>/d' -e '/<user>/d' /usr/share/dbus-1/system.conf >"$dir/bus.conf"
    ip netns exec "$ns" dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile >"$dir/bus.log" 2>&1 &
    PIDS+=($!)
    for i in $(seq 100); do [[ -S $dir/socket ]] && break; sleep 0.02; done
    [[ -S $dir/socket ]] || fail "the D-Bus daemon of $name did not start: $(cat "$dir/bus.log")"
    printf '%s\n' "[server]" "host-name=$NETLAB_PREFIX-$name" "use-ipv4=yes" "use-ipv6=no" "allow-interfaces=eth0" \
        "[wide-area]" "enable-wide-area=no" "[publish]" "publish-hinfo=no" "publish-workstation=no" >"$dir/avahi.conf"
    DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/socket ip netns exec "$ns" unshare -m sh -c \
        "mount -t tmpfs tmpfs /run && mkdir /run/avahi-daemon &&
         exec avahi-daemon -f '$dir/avahi.conf' --no-drop-root --no-chroot --no-rlimits" >"$dir/avahi.log" 2>&1 &
    PIDS+=($!)
    for i in $(seq 150); do grep -qs 'Server startup complete' "$dir/avahi.log" && return 0; sleep 0.02; done
    fail "avahi of $name did not start: $(cat "$dir/avahi.log")"
}

# `login NAME`: logs the device in as alice; sets DEV_NAME to its device id (alice-PC-N). The
# first device is the account's primary; each later one is approved on it (`kith approve`), as
# its user would after comparing fingerprints, and this returns once the device holds the roster.
login() {
    local name=$1 out id i
    out=$(kith login "$INVITE" --account alice --password-file "$PASSWORD_FILE" --name "$name" \
        --profile "$WORK/dev-$name" --json) || fail "login of $name failed: $out"
    id=$($PY -c 'import json,sys; print(json.load(sys.stdin)["deviceID"])' <<<"$out")
    eval "DEV_$name=$id"
    if [[ -z ${PRIMARY_PROFILE:-} ]]; then PRIMARY_PROFILE=$WORK/dev-$name; return 0; fi
    [[ $PRIMARY_PROFILE == "$WORK/dev-$name" ]] && return 0
    out=$(kith approve "$id" --profile "$PRIMARY_PROFILE" --json 2>&1) || fail "approval of $id failed: $out"
    for i in $(seq 100); do
        [[ $(kith status --json --profile "$WORK/dev-$name" 2>/dev/null |
             $PY -c 'import json,sys; print(json.load(sys.stdin).get("role"))' 2>/dev/null) == secondary ]] && return 0
        sleep 0.1
    done
    fail "$id did not take the roster that approves it"
}

# `block_tcp NAME` / `unblock_tcp NAME`: no TCP to or from device NAME but the server's
# (100.64.0.1) and loopback, in either direction (nftables in its namespace).
block_tcp() {
    ip netns exec "$NETLAB_PREFIX-d-$1" nft -f - <<NFT
table inet kith_no_tcp {
    chain out { type filter hook output priority 0; policy accept; meta l4proto tcp ip daddr != { 100.64.0.1, 127.0.0.0/8 } drop; }
    chain in { type filter hook input priority 0; policy accept; meta l4proto tcp ip saddr != { 100.64.0.1, 127.0.0.0/8 } drop; }
}
NFT
}
unblock_tcp() { ip netns exec "$NETLAB_PREFIX-d-$1" nft delete table inet kith_no_tcp; }

# `timed_push FROM TO_ID FILE`: pushes FILE from device FROM to TO_ID (direct receive) and follows
# it on FROM; prints "MILLISECONDS DATA_MS PATHS": the time from the push to complete, the time
# from the first verified bytes to complete (what a rate is computed from: it leaves out the
# offer and a direct TCP dial that times out), and the paths `kith transfers` showed while it
# ran, comma-separated.
timed_push() {
    local from=$1 to=$2 file=$3 out id start paths="" state path verified first=""
    start=$(now_ms)
    out=$(kith push "$file" --to "$to" --direct --detach --json --profile "$WORK/dev-$from") || fail "push failed: $out"
    id=$($PY -c 'import json,sys; print(json.loads(sys.stdin.read())["id"])' <<<"$out") || fail "push said: $out"
    while :; do
        read -r state path verified < <(kith transfers --json --profile "$WORK/dev-$from" | $PY -c '
import json, sys
for t in json.load(sys.stdin)["transfers"]:
    if t["id"] == sys.argv[1]: print(t["state"], t.get("path") or "-", t.get("verifiedBytes") or 0)' "$id")
        [[ -z $first && $verified != 0 ]] && first=$(now_ms)
        [[ $path != - && ,$paths, != *,$path,* ]] && paths=${paths:+$paths,}$path
        [[ $state == complete ]] && break
        [[ $state == failed || $state == cancelled || $state == rejected ]] && fail "transfer $state"
        (( $(now_ms) - start > 120000 )) && fail "the push of $(basename "$file") did not complete in 120 s (state $state, paths $paths)"
        sleep 0.1
    done
    local end; end=$(now_ms)
    echo "$(( end - start )) $(( end - ${first:-$start} )) ${paths:--}"
}

# `landed NAME FILE`: where FILE lands on device NAME (its default receive folder, HOME=$WORK/home-NAME).
landed() { echo "$WORK/home-$1/Downloads/Kith/$(basename "$2")"; }

# `path_of NAME PEER_ID`: prints "PATH<TAB>DETAIL<TAB>RTT" of NAME's view of the device PEER_ID.
path_of() {
    kith devices --json --profile "$WORK/dev-$1" 2>/dev/null | $PY -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["id"] == sys.argv[1]:
        print(d["path"], d.get("pathDetail") or "", d.get("rttMillis") or "", sep="\t")' "$2" || true
}

# `show_path NAME PEER_NAME`: NAME's view of PEER_NAME, for the log: "path | detail | rtt".
show_path() { local line; line=$(path_of "$1" "$(eval echo "\$DEV_$2")"); echo "${line//$'\t'/ | }"; }

# `wait_path NAME PEER_ID WANT SECONDS [DETAIL_REGEX]`: polls until NAME sees PATH WANT (and,
# if given, a detail matching the regex); prints the milliseconds it took; fails on timeout.
wait_path() {
    local name=$1 peer=$2 want=$3 limit=$4 detail=${5:-} start line
    start=$(now_ms)
    while :; do
        line=$(path_of "$name" "$peer")
        if [[ ${line%%$'\t'*} == "$want" ]] && [[ -z $detail || $line =~ $detail ]]; then
            echo $(( $(now_ms) - start )); return 0
        fi
        (( $(now_ms) - start > limit * 1000 )) && {
            echo "timeout: $name sees $peer as '${line//$'\t'/ | }', wanted $want${detail:+ ~ $detail}" >&2; return 1; }
        sleep 0.05
    done
}

# `wait_both A B WANT SECONDS [DETAIL_REGEX]`: both devices see each other on path WANT; prints
# the milliseconds until the later of the two did (both are polled in turn from the same start).
wait_both() {
    local a=$1 b=$2 want=$3 limit=$4 detail=${5:-} start ida idb
    ida=$(eval echo "\$DEV_$a"); idb=$(eval echo "\$DEV_$b")
    start=$(now_ms)
    wait_path "$a" "$idb" "$want" "$limit" "$detail" >/dev/null || return 1
    wait_path "$b" "$ida" "$want" "$limit" "$detail" >/dev/null || return 1
    echo $(( $(now_ms) - start ))
}

# `send FROM TO TEXT`: a note from device FROM to device TO (a name of this scenario).
send() {
    local to; to=$(eval echo "\$DEV_$2")
    kith send "$to" "$3" --profile "$WORK/dev-$1" >/dev/null || fail "kith send from $1 failed"
}

# `count_note NAME TEXT`: how many notes with exactly TEXT are in NAME's inbox.
count_note() {
    kith inbox --json --limit 1000 --profile "$WORK/dev-$1" | $PY -c '
import json, sys
print(sum(1 for n in json.load(sys.stdin)["notes"] if n["text"] == sys.argv[1]))' "$2"
}

# `wait_note NAME TEXT SECONDS`: the note arrives in NAME's inbox; prints the milliseconds.
wait_note() {
    local start; start=$(now_ms)
    while [[ $(count_note "$1" "$2") -lt 1 ]]; do
        (( $(now_ms) - start > $3 * 1000 )) && fail "note '$2' did not reach $1 in $3 s"
        sleep 0.05
    done
    echo $(( $(now_ms) - start ))
}

# The one result line, key=value pairs after the scenario's name; marks the run a success.
result() {
    STATUS=ok
    echo "RESULT $SCENARIO $*"
}
