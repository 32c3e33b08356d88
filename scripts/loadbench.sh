#!/usr/bin/env bash
# Load benchmark of nonrep serve (issue 7): the same pre-signed requests
# sent, one configuration after the other, to
#   a-proxy           a plain reverse proxy, no verification
#                     (nonrep bench --serve proxy)
#   b-verify          the verifying middleware alone: no replay check, no
#                     evidence (nonrep bench --serve verify). nonrep serve
#                     itself cannot run without evidence, by design.
#   c-verify+replay   the same with the in-memory replay store
#                     (nonrep bench --serve verify-replay)
#   d-sqlite          nonrep serve: verify + replay (memory) + durable
#                     evidence in SQLite (WAL, synchronous=FULL)
#   d-sqlite-tmpfs    the same with the SQLite file on /dev/shm (fsync is
#                     free there: shows what durability costs)
#   d-postgres        nonrep serve, evidence in PostgreSQL
#   d-postgres+redis  nonrep serve, evidence in PostgreSQL, replay in Redis
#                     (the scale-out stores)
# plus the raw-verify bound (the profile's verification on every core,
# nothing else), for ES256 (generic) and PS512 RSA-3072 (incomm). Every
# server forwards to the same upstream (nonrep bench --serve upstream), and
# everything — load generator included — shares this machine's cores.
#
#   scripts/loadbench.sh
#
# Knobs (environment variables, all optional):
#   CONCURRENCY   requests in flight (default 16)
#   COUNT_ES256   pre-signed requests per configuration (default 20000)
#   COUNT_PS512   the same for PS512 (default 8000; signing them takes a
#                 while: about 3 ms each)
#   RAW           duration of the raw-verify run (default 10s)
#   ROUNDS        repeat the whole measurement (default 1)
#   PG_DSN        PostgreSQL for the d-postgres rows (default: a fresh
#                 schema in postgres://postgres@127.0.0.1:5432/test,
#                 dropped at the end; made with psql). PG_DSN=none skips.
#   REDIS_ADDR    Redis for d-postgres+redis (default 127.0.0.1:6379);
#                 REDIS_ADDR=none skips.
#   OUT           also append the results to this file
set -euo pipefail
cd "$(dirname "$0")/.."

concurrency=${CONCURRENCY:-16}
count_es=${COUNT_ES256:-20000}
count_ps=${COUNT_PS512:-8000}
raw=${RAW:-10s}
rounds=${ROUNDS:-1}
redis_addr=${REDIS_ADDR:-127.0.0.1:6379}

work=$(mktemp -d)
pids=()
schema=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$schema" ]; then
		psql -q "$pg_base" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	fi
	rm -rf "$work" /dev/shm/nonrep-loadbench-$$
}
trap cleanup EXIT

echo "# building"
go build -o "$work/nonrep" ./cmd/nonrep
nr=$work/nonrep
$nr keygen --alg ES256 --kid bench-es256 --out "$work/es256.jwk" >"$work/es256.pub.jwk"
$nr keygen --alg PS512 --bits 3072 --kid bench-ps512 --out "$work/ps512.jwk" >"$work/ps512.pub.jwk"

declare -A url pid
# start NAME CMD... : runs CMD in the background and waits for "listening on URL".
start() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
	pid[$name]=$!
	local u=""
	for _ in $(seq 1 600); do
		u=$(grep -o 'listening on https\?://[^ ]*' "$work/$name.out" 2>/dev/null | head -1 | cut -d' ' -f3 || true)
		[ -n "$u" ] && break
		sleep 0.1
	done
	if [ -z "$u" ]; then
		echo "$name did not start:" >&2
		cat "$work/$name.err" >&2
		exit 1
	fi
	url[$name]=$u
}

gateway_config() { # DATA_DIR STORES_YAML
	cat <<EOF
listen: 127.0.0.1:0
data_dir: $1
limits:
  max_concurrent: 64
$2
partners:
  - name: bench-generic
    profile: generic
    keys: [$work/es256.pub.jwk]
  - name: bench-incomm
    profile: incomm
    keys: [$work/ps512.pub.jwk]
routes:
  - path: /generic/
    partner: bench-generic
    upstream: ${url[upstream]}
    strip_prefix: true
  - path: /incomm/
    partner: bench-incomm
    upstream: ${url[upstream]}
    strip_prefix: true
EOF
}

echo "# starting the servers"
start upstream $nr bench --serve upstream
start proxy $nr bench --serve proxy --upstream "${url[upstream]}"
start verify-generic $nr bench --serve verify --profile generic --key "$work/es256.pub.jwk" --upstream "${url[upstream]}"
start verify-incomm $nr bench --serve verify --profile incomm --key "$work/ps512.pub.jwk" --upstream "${url[upstream]}"
start replay-generic $nr bench --serve verify-replay --profile generic --key "$work/es256.pub.jwk" --upstream "${url[upstream]}"
start replay-incomm $nr bench --serve verify-replay --profile incomm --key "$work/ps512.pub.jwk" --upstream "${url[upstream]}"

gateway_config "$work/sqlite" "" >"$work/sqlite.yaml"
start sqlite $nr serve --config "$work/sqlite.yaml"
if [ -d /dev/shm ]; then
	gateway_config "/dev/shm/nonrep-loadbench-$$" "" >"$work/tmpfs.yaml"
	start tmpfs $nr serve --config "$work/tmpfs.yaml"
fi

pg_dsn=${PG_DSN:-}
pg_base=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
if [ -z "$pg_dsn" ] && command -v psql >/dev/null && psql -q "$pg_base" -c "SELECT 1" >/dev/null 2>&1; then
	schema=loadbench_$$
	psql -q "$pg_base" -c "CREATE SCHEMA $schema" >/dev/null
	pg_dsn="$pg_base&search_path=$schema"
fi
if [ -n "$pg_dsn" ] && [ "$pg_dsn" != none ]; then
	gateway_config "$work/pg" "stores:
  evidence:
    backend: postgres
    dsn: \"$pg_dsn\"" >"$work/pg.yaml"
	start postgres $nr serve --config "$work/pg.yaml"
	if [ "$redis_addr" != none ] && (exec 3<>"/dev/tcp/${redis_addr%:*}/${redis_addr##*:}") 2>/dev/null; then
		gateway_config "$work/pgredis" "stores:
  evidence:
    backend: postgres
    dsn: \"$pg_dsn\"
  replay:
    backend: redis
    addr: $redis_addr" >"$work/pgredis.yaml"
		start pgredis $nr serve --config "$work/pgredis.yaml"
	fi
fi

# cpu NAME: CPU time (user + system, clock ticks) a server has used so far.
cpu() { awk '{print $14 + $15}' "/proc/${pid[$1]}/stat" 2>/dev/null || echo 0; }

# server ROW PROFILE: the server behind a table row.
server() {
	case $1 in
	a-proxy) echo proxy ;;
	b-verify) echo "verify-$2" ;;
	c-verify+replay) echo "replay-$2" ;;
	d-sqlite) echo sqlite ;;
	d-sqlite-tmpfs) echo tmpfs ;;
	d-postgres) echo postgres ;;
	d-postgres+redis) echo pgredis ;;
	esac
}

targets() { # PROFILE: the --url flags, in table order
	local p=$1
	local path=/$p/v1/payments
	echo "--url a-proxy=${url[proxy]}$path"
	echo "--url b-verify=${url[verify-$p]}$path"
	echo "--url c-verify+replay=${url[replay-$p]}$path"
	echo "--url d-sqlite=${url[sqlite]}$path"
	[ -n "${url[tmpfs]:-}" ] && echo "--url d-sqlite-tmpfs=${url[tmpfs]}$path"
	[ -n "${url[postgres]:-}" ] && echo "--url d-postgres=${url[postgres]}$path"
	[ -n "${url[pgredis]:-}" ] && echo "--url d-postgres+redis=${url[pgredis]}$path"
	return 0
}

echo "# $(uname -srm), $(nproc) cores, $(go version | cut -d' ' -f3)"
results=$work/results.txt
for round in $(seq 1 "$rounds"); do
	for spec in "generic es256 $count_es" "incomm ps512 $count_ps"; do
		read -r prof key count <<<"$spec"
		# shellcheck disable=SC2046
		cmd=(nonrep bench --profile "$prof" --key "$key.jwk" --count "$count" --concurrency "$concurrency" $(targets "$prof") --raw --duration "$raw")
		echo
		echo "# round $round: ${cmd[*]}"
		declare -A before=()
		for n in "${!pid[@]}"; do before[$n]=$(cpu "$n"); done
		(cd "$work" && "$nr" "${cmd[@]:1}" 2>"$work/bench.err") | tee "$work/table.txt" | tee -a "$results" || {
			cat "$work/bench.err" >&2
			exit 1
		}
		# CPU per request of each server (its own process only: the load
		# generator and the upstream are not counted), against the CPU of
		# one raw verification. With the gateway on cores of its own, its
		# throughput would be this share of the raw bound.
		tck=$(getconf CLK_TCK)
		rawps=$(awk '$1 == "raw-verify" {print $4}' "$work/table.txt")
		workers=$(nproc)
		{
			printf '%-22s %14s %14s\n' "server CPU" "µs/request" "raw verify ÷ it"
			while read -r label _; do
				n=$(server "$label" "$prof")
				[ -n "$n" ] || continue
				used=$(($(cpu "$n") - ${before[$n]}))
				awk -v l="$label" -v u="$used" -v t="$tck" -v c="$count" -v r="$rawps" -v w="$workers" 'BEGIN {
					us = u * 1e6 / t / c; raw = w * 1e6 / r
					printf "%-22s %14.0f %13.1f%%\n", l, us, 100 * raw / us }'
			done < <(tail -n +3 "$work/table.txt")
			up=$(($(cpu upstream) - ${before[upstream]}))
			rows=$(tail -n +3 "$work/table.txt" | grep -vc '^raw-verify')
			awk -v u="$up" -v t="$tck" -v c="$count" -v n="$rows" -v r="$rawps" -v w="$workers" 'BEGIN {
				printf "%-22s %14.0f\n%-22s %14.0f\n", "(upstream)", u * 1e6 / t / (c * n), "(raw verification)", w * 1e6 / r }'
		} | tee -a "$results"
	done
done
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo -)"
if [ -n "${OUT:-}" ]; then cat "$results" >>"$OUT"; fi
