#!/usr/bin/env bash
# Cached-hit latency (p50/p99) and throughput of gnfc's proxy against mitmproxy (with a
# caching addon: it has no cache of its own), squid (memory cache) and nginx serving the
# same file directly (the limit). Bodies of 1 KiB and 50 MiB; plain HTTP on loopback, so
# every proxy does the same work: parse the request, find the cached body, send it.
#
# Usage: bash benches/proxy_bench.sh [SECONDS_PER_MEASUREMENT]   (default 10)
# Installs what it needs: wrk, squid and nginx from Debian; mitmproxy in a venv from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-10}
CONNS_SMALL=16
CONNS_LARGE=4
work=$(mktemp -d /tmp/gnfc-proxy-bench.XXXXXX)
# nginx workers and squid drop root for their own users: they must read (squid: write) here.
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v squid >/dev/null || need+=(squid)
command -v nginx >/dev/null || need+=(nginx-light)
if ((${#need[@]})); then
    echo "installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
venv=${GNFC_BENCH_VENV:-$HOME/.cache/gnfc-bench-venv}
if [[ ! -x $venv/bin/mitmdump ]]; then
    echo "installing mitmproxy into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q mitmproxy
fi
cargo build --release --quiet -p gnfc
gnfc=$PWD/target/release/gnfc

# The origin: nginx serving the two bodies, cacheable for an hour.
mkdir -p "$work/www" "$work/nginx"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$work/www/50m.bin"
chmod -R a+rX "$work/www"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:18080;
        root $work/www;
        add_header Cache-Control "public, max-age=3600";
    }
}
EOF
nginx -c "$work/nginx/nginx.conf" & pids+=($!)

# gnfc: record mode, internet upstream only.
mkdir -p "$work/gnfc"
cat >"$work/gnfc/gnfc.toml" <<'EOF'
[proxy]
upstreams = ["internet"]
EOF
(cd "$work/gnfc" && exec "$gnfc" --quiet proxy serve --listen 127.0.0.1:18081 --mode record >/dev/null 2>&1) & pids+=($!)

# mitmproxy with an in-memory cache addon.
cat >"$work/cache_addon.py" <<'EOF'
from mitmproxy import http

cache = {}

def request(flow: http.HTTPFlow) -> None:
    hit = cache.get((flow.request.method, flow.request.url))
    if hit is not None:
        flow.response = hit.copy()

def response(flow: http.HTTPFlow) -> None:
    key = (flow.request.method, flow.request.url)
    if flow.response.status_code == 200 and key not in cache:
        cache[key] = flow.response.copy()
EOF
"$venv/bin/mitmdump" -q --listen-host 127.0.0.1 -p 18082 -s "$work/cache_addon.py" \
    --set confdir="$work/mitm" >/dev/null 2>&1 & pids+=($!)

# squid: memory cache big enough for the 50 MiB body.
mkdir -p "$work/squid"
chmod 777 "$work/squid"
cat >"$work/squid/squid.conf" <<EOF
http_port 127.0.0.1:18083
http_access allow all
cache_mem 256 MB
maximum_object_size 64 MB
maximum_object_size_in_memory 64 MB
cache_dir null /tmp
pid_filename $work/squid/squid.pid
access_log none
cache_log $work/squid/cache.log
cache_store_log none
coredump_dir $work/squid
EOF
squid -N -f "$work/squid/squid.conf" 2>"$work/squid/stderr.log" & pids+=($!)

wait_port() {
    for _ in $(seq 100); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}
for port in 18080 18081 18082 18083; do wait_port "$port"; done

# wrk sends absolute-form requests (what a client says to a forward proxy) via this script.
cat >"$work/proxy.lua" <<'EOF'
local url = os.getenv("BENCH_URL")
wrk.path = url
wrk.headers["Host"] = url:match("^http://([^/]+)")
EOF

# One measurement: prints "p50_ms p99_ms req_per_s MiB_per_s".
measure() { # port path conns proxy?
    local port=$1 path=$2 conns=$3 via=$4 out
    local url="http://127.0.0.1:18080$path"
    if [[ $via == proxy ]]; then
        # Warm the cache: the first fetch is a miss everywhere.
        curl -s -o /dev/null -x "http://127.0.0.1:$port" "$url"
        curl -s -o /dev/null -x "http://127.0.0.1:$port" "$url"
        out=$(BENCH_URL=$url wrk -t1 -c"$conns" -d"${SECS}s" --latency -s "$work/proxy.lua" "http://127.0.0.1:$port")
    else
        out=$(wrk -t1 -c"$conns" -d"${SECS}s" --latency "$url")
    fi
    local errors
    errors=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" || true)
    [[ -n $errors ]] && echo "warning: $errors on port $port $path" >&2
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        function mib(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        $1 == "Transfer/sec:" { tput = mib($2) }
        END { printf "%.3f %.3f %.1f %.1f\n", p50, p99, rps, tput }' <<<"$out"
}

printf '%-10s %-10s %10s %10s %12s %12s\n' body server p50_ms p99_ms req/s MiB/s
declare -A res
for body in 1k 50m; do
    conns=$CONNS_SMALL
    [[ $body == 50m ]] && conns=$CONNS_LARGE
    for entry in nginx:18080:direct gnfc:18081:proxy mitmproxy:18082:proxy squid:18083:proxy; do
        IFS=: read -r name port via <<<"$entry"
        read -r p50 p99 rps tput < <(measure "$port" "/$body.bin" "$conns" "$via")
        res[$body.$name]="$p50 $p99 $rps $tput"
        printf '%-10s %-10s %10s %10s %12s %12s\n' "$body" "$name" "$p50" "$p99" "$rps" "$tput"
    done
done

echo
echo "ratios (gnfc against each; >1 means gnfc is better):"
for body in 1k 50m; do
    read -r g50 g99 grps gtput <<<"${res[$body.gnfc]}"
    for other in mitmproxy squid nginx; do
        read -r o50 o99 orps otput <<<"${res[$body.$other]}"
        awk -v b="$body" -v o="$other" -v g50="$g50" -v o50="$o50" -v g99="$g99" -v o99="$o99" \
            -v grps="$grps" -v orps="$orps" -v gt="$gtput" -v ot="$otput" 'BEGIN {
            printf "%-4s vs %-10s p50 %6.2fx  p99 %6.2fx  req/s %6.2fx  MiB/s %6.2fx\n",
                b, o, o50 / g50, o99 / g99, grps / orps, gt / ot }'
    done
done
