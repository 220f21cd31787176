#!/usr/bin/env bash
# augment against its peers, in one run: the acceptance benchmark.
#
#   bench/compare.sh [all|online|offline]        (default: all)
#
# Environment: ROUNDS (5), SECONDS_PER (4: seconds per online measurement),
# N (400 corpus images), SEED (0), AUGMENT (build/src/cli/augment),
# JPEG_DECODE (build/bench/jpeg_decode), MOGRIFY (/usr/bin/mogrify).
#
# Builds nothing. Makes the ImageNet-like corpus (bench/make-corpus.py, cached
# in bench/corpus/), checks the peers' outputs once, then runs every
# measurement once per round, round after round, so that a slow spell of the
# machine hits all of them alike, and reports medians over the rounds.
#
# online: the standard training pipeline (decode, random resized crop 224,
#   flip, colour jitter, cutout, normalised float32 CHW) from file bytes in
#   memory: `augment bench` at 1 and 2 threads, torchvision (1 process, and a
#   DataLoader with 2 workers), OpenCV+numpy (1 process, 2 processes), and
#   libjpeg-turbo's full-size decode alone (1 and 2 threads) as the floor;
#   and libjpeg-turbo's Huffman decoding alone (1 thread), with augment's
#   own decode-only figure, as ceilings: what no pipeline of these files
#   built on libjpeg-turbo can beat.
# offline: hflip + resize short side 256 + centre crop 256 + JPEG q90 4:2:0
#   with the standard Huffman tables (each tool's default, as in cjpeg;
#   optimised tables are an option in all three), folder to folder, 2
#   threads or processes each: `augment run`, vipsthumbnail, ImageMagick
#   mogrify; wall clock of whole runs.
#
# Raw results (one JSON line per measurement) and the summary go to
# bench/results/<date>/.
set -euo pipefail

MODE=${1:-all}
case $MODE in all | online | offline) ;; *)
	echo "usage: bench/compare.sh [all|online|offline]" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${SECONDS_PER:-4}
N=${N:-400}
SEED=${SEED:-0}
AUGMENT=${AUGMENT:-build/src/cli/augment}
JPEG_DECODE=${JPEG_DECODE:-build/bench/jpeg_decode}
MOGRIFY=${MOGRIFY:-/usr/bin/mogrify}
PY=/usr/bin/python3
SPEC='random_resized_crop 224 scale=0.08:1 ratio=3/4:4/3; hflip; color_jitter brightness=0.4 contrast=0.4 saturation=0.4 hue=0.1; cutout size=56 p=0.5; normalize mean=imagenet std=imagenet'
OFFLINE_SPEC='hflip p=1; resize short=256; center_crop 256'

# ---- what must be there -------------------------------------------------
missing=()
for p in python3-torchvision python3-opencv python3-pil python3-numpy libjpeg-turbo-progs libvips-tools imagemagick libopenblas0; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "compare.sh: missing peers: ${missing[*]}; install them with:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
for b in "$AUGMENT" "$JPEG_DECODE" "$MOGRIFY" "$PY"; do
	if [ ! -x "$b" ]; then
		echo "compare.sh: $b not found; build first (meson setup build && ninja -C build)" >&2
		exit 1
	fi
done
command -v vipsthumbnail >/dev/null || { echo "compare.sh: vipsthumbnail not found" >&2; exit 1; }

CORPUS=bench/corpus/imagenet-like-n$N-s$SEED
if [ ! -d "$CORPUS" ]; then
	"$PY" bench/make-corpus.py "$CORPUS" --n "$N" --seed "$SEED"
fi
CORPUS_LINE=$("$PY" bench/make-corpus.py "$CORPUS" --describe)
echo "corpus: $CORPUS_LINE"

STAMP=$(date +%Y%m%d-%H%M%S)
RES=bench/results/$STAMP
mkdir -p "$RES"
RAW=$RES/raw.jsonl
: >"$RAW"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/augment-compare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- sanity checks, once ------------------------------------------------
if [ "$MODE" != offline ]; then
	for impl in torchvision opencv; do
		"$PY" bench/peers.py "$CORPUS" --impl "$impl" --check
	done
fi

# record NAME ROUND JSON: one line of raw.jsonl
record() {
	printf '{"name":"%s","round":%d,"result":%s}\n' "$1" "$2" "$3" >>"$RAW"
}

# measure NAME ROUND CMD...: runs CMD, keeps the last line of its stdout (JSON)
measure() {
	local name=$1 round=$2 out
	shift 2
	if ! out=$("$@" | tail -n 1); then
		echo "compare.sh: $name failed: $*" >&2
		exit 1
	fi
	record "$name" "$round" "$out"
	printf '  %-22s %s\n' "$name" "$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["images_per_second"], "img/s")')"
}

FILES=$TMP/files
find "$CORPUS" -type f -name '*.jpg' | sort >"$FILES"
NFILES=$(wc -l <"$FILES")
HALF=$(((NFILES + 1) / 2))

# timed NAME ROUND OUTDIR CMD...: wall clock of a whole offline run; checks
# that it wrote one file per image
timed() {
	local name=$1 round=$2 dir=$3 t0 t1 got
	shift 3
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	got=$(find "$dir" -type f -name '*.jpg' | wc -l)
	if [ "$got" -ne "$NFILES" ]; then
		echo "compare.sh: $name wrote $got files, not $NFILES" >&2
		exit 1
	fi
	record "$name" "$round" "$(awk -v n="$NFILES" -v a="$t0" -v b="$t1" 'BEGIN { printf "{\"images\":%d,\"seconds\":%.3f,\"images_per_second\":%.2f}", n, b - a, n / (b - a) }')"
	printf '  %-22s %s img/s\n' "$name" "$(awk -v n="$NFILES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) }')"
}

off_augment() {
	"$AUGMENT" run "$CORPUS" -o "$1" -p "$OFFLINE_SPEC" --format jpg --quality 90 --threads 2 --quiet
}
# vipsthumbnail has no flip: it does the resize, centre crop and encode only.
off_vips() {
	mkdir -p "$1"
	VIPS_CONCURRENCY=1 xargs -P 2 -n "$HALF" vipsthumbnail --size 256x256 --smartcrop centre \
		-o "$1/%s.jpg[Q=90,subsample_mode=on,strip]" <"$FILES"
}
off_mogrify() {
	mkdir -p "$1"
	MAGICK_THREAD_LIMIT=1 xargs -P 2 -n "$HALF" "$MOGRIFY" -path "$1" -flop -resize '256x256^' \
		-gravity center -extent 256x256 -quality 90 -sampling-factor 2x2 -define jpeg:optimize-coding=false <"$FILES"
}

# ---- rounds -------------------------------------------------------------
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r/$ROUNDS"
	if [ "$MODE" != offline ]; then
		for t in 1 2; do
			measure "augment-${t}" "$r" "$AUGMENT" bench "$CORPUS" -p "$SPEC" --threads "$t" --seconds "$SECONDS_PER" --json
		done
		for w in 1 2; do
			measure "torchvision-${w}" "$r" "$PY" bench/peers.py "$CORPUS" --impl torchvision --workers "$w" --seconds "$SECONDS_PER"
		done
		for w in 1 2; do
			measure "opencv-${w}" "$r" "$PY" bench/peers.py "$CORPUS" --impl opencv --workers "$w" --seconds "$SECONDS_PER"
		done
		for t in 1 2; do
			measure "libjpeg-${t}" "$r" "$JPEG_DECODE" "$CORPUS" "$t" "$SECONDS_PER"
		done
		measure "libjpeg-entropy-1" "$r" "$JPEG_DECODE" "$CORPUS" 1 "$SECONDS_PER" --entropy-only
	fi
	if [ "$MODE" != online ]; then
		d=$TMP/round$r
		# The order rotates round by round: whoever runs first after
		# the online measurements meets whatever work they left the
		# kernel, and no tool should always be the one to pay for it.
		for k in 0 1 2; do
			case $(((r + k) % 3)) in
			1) timed offline-augment "$r" "$d/augment" off_augment "$d/augment" ;;
			2) timed offline-vips "$r" "$d/vips" off_vips "$d/vips" ;;
			0) timed offline-mogrify "$r" "$d/mogrify" off_mogrify "$d/mogrify" ;;
			esac
		done
		# Kept until the end (about 20 MB a round): ext4 skips inodes freed
		# in the last 5 to 35 seconds when it allocates new ones, so deleting
		# a round's outputs made the next round's first writer (augment) pay
		# for a scan of them, a cost of repeating runs that no user's job has.
	fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary ------------------------------------------------------------
export RAW ROUNDS SECONDS_PER SPEC OFFLINE_SPEC CORPUS CORPUS_LINE LOAD_BEFORE LOAD_AFTER MODE HALF MOGRIFY AUGMENT JPEG_DECODE
"$PY" - <<'EOF' | tee "$RES/summary.md"
import json, os, platform, statistics, subprocess

E = os.environ
rows = [json.loads(l) for l in open(E['RAW'])]
# What augment's decoder alone allows (its header and region decode, with
# every other phase taken as free): the ceiling of the 1-thread figure.
rows += [dict(r, name=r['name'] + '-decode', result=dict(r['result'], images_per_second=r['result']['decode_bound']))
         for r in rows if r['name'] == 'augment-1' and 'decode_bound' in r['result']]
by = {}
for r in rows:
    by.setdefault(r['name'], []).append(r['result'])
med = {k: statistics.median(x['images_per_second'] for x in v) for k, v in by.items()}
lo = {k: min(x['images_per_second'] for x in v) for k, v in by.items()}
hi = {k: max(x['images_per_second'] for x in v) for k, v in by.items()}
for k, v in by.items():
    bad = sum(x.get('failed', 0) for x in v)
    if bad:
        raise SystemExit(f'{k}: {bad} images failed')

cpu = 'unknown CPU'
for line in open('/proc/cpuinfo'):
    if line.startswith('model name'):
        cpu = line.split(':', 1)[1].strip()
        break
cores = os.cpu_count()
corpus, spec, ospec, sp = E['CORPUS'], E['SPEC'], E['OFFLINE_SPEC'], E['SECONDS_PER']
aug, jd = E['AUGMENT'], E['JPEG_DECODE']

online = [
    ('augment-1', 'augment, 1 thread', f"{aug} bench {corpus} -p '<spec>' --threads 1 --seconds {sp} --json"),
    ('augment-1-decode', 'augment, 1 thread, its header + region decode alone (a ceiling: the other phases taken as free)',
     'the 1-thread run above: decode_bound in its JSON'),
    ('augment-2', 'augment, 2 threads', f"{aug} bench {corpus} -p '<spec>' --threads 2 --seconds {sp} --json"),
    ('torchvision-1', 'torchvision + PIL, 1 process', f'/usr/bin/python3 bench/peers.py {corpus} --impl torchvision --workers 1 --seconds {sp}'),
    ('torchvision-2', 'torchvision DataLoader, 2 workers', f'/usr/bin/python3 bench/peers.py {corpus} --impl torchvision --workers 2 --seconds {sp}'),
    ('opencv-1', 'OpenCV + numpy, 1 process', f'/usr/bin/python3 bench/peers.py {corpus} --impl opencv --workers 1 --seconds {sp}'),
    ('opencv-2', 'OpenCV + numpy, 2 processes', f'/usr/bin/python3 bench/peers.py {corpus} --impl opencv --workers 2 --seconds {sp}'),
    ('libjpeg-1', 'libjpeg-turbo full decode only, 1 thread', f'{jd} {corpus} 1 {sp}'),
    ('libjpeg-2', 'libjpeg-turbo full decode only, 2 threads', f'{jd} {corpus} 2 {sp}'),
    ('libjpeg-entropy-1', 'libjpeg-turbo Huffman decoding only (whole image, no IDCT, no colour), 1 thread',
     f'{jd} {corpus} 1 {sp} --entropy-only'),
]
h = E['HALF']
offline = [
    ('offline-augment', 'augment run, 2 threads',
     f"{aug} run {corpus} -o OUT -p '{ospec}' --format jpg --quality 90 --threads 2 --quiet"),
    ('offline-vips', 'vipsthumbnail, 2 processes (no flip)',
     f"VIPS_CONCURRENCY=1 xargs -P 2 -n {h} vipsthumbnail --size 256x256 --smartcrop centre -o 'OUT/%s.jpg[Q=90,subsample_mode=on,strip]' < FILES"),
    ('offline-mogrify', 'ImageMagick mogrify, 2 processes',
     f"MAGICK_THREAD_LIMIT=1 xargs -P 2 -n {h} {E['MOGRIFY']} -path OUT -flop -resize '256x256^' -gravity center -extent 256x256 -quality 90 -sampling-factor 2x2 -define jpeg:optimize-coding=false < FILES"),
]
ratios = [
    ('augment 1T / torchvision 1 process', 'augment-1', 'torchvision-1'),
    ('augment 1T / OpenCV 1 process', 'augment-1', 'opencv-1'),
    ('augment 1T / libjpeg-turbo decode 1T', 'augment-1', 'libjpeg-1'),
    ('ceiling: augment 1T region decode alone / torchvision 1 process', 'augment-1-decode', 'torchvision-1'),
    ('ceiling: libjpeg-turbo Huffman decoding alone / torchvision 1 process', 'libjpeg-entropy-1', 'torchvision-1'),
    ('augment 2T / augment 1T', 'augment-2', 'augment-1'),
    ('augment 2T / torchvision DataLoader 2 workers', 'augment-2', 'torchvision-2'),
    ('augment 2T / OpenCV 2 processes', 'augment-2', 'opencv-2'),
    ('augment 2T / libjpeg-turbo decode 2T', 'augment-2', 'libjpeg-2'),
    ('torchvision 2 workers / 1 process', 'torchvision-2', 'torchvision-1'),
    ('OpenCV 2 processes / 1 process', 'opencv-2', 'opencv-1'),
    ('libjpeg-turbo 2T / 1T', 'libjpeg-2', 'libjpeg-1'),
    ('offline: augment / vipsthumbnail', 'offline-augment', 'offline-vips'),
    ('offline: augment / mogrify', 'offline-augment', 'offline-mogrify'),
]

def fmt(x):
    return f'{x:,.1f}'

print()
print(f"## augment against its peers ({E['ROUNDS']} rounds, medians)")
print()
print(f'Machine: {cpu}, {cores} cores, {platform.system()} {platform.release()}; '
      f"load average {E['LOAD_BEFORE']} before, {E['LOAD_AFTER']} after.  ")
print(f"Corpus: {E['CORPUS_LINE']} (`bench/make-corpus.py`).  ")
print(f"Command: `ROUNDS={E['ROUNDS']} SECONDS_PER={sp} bench/compare.sh {E['MODE']}`")
print()
if any(k in med for k, _, _ in online):
    print('Online: decode, random resized crop 224, flip, colour jitter, cutout 56, normalised float32 CHW; '
          'from file bytes in memory. `<spec>` is')
    print()
    print(f'    {spec}')
    print()
    print('| implementation | images/s (median) | min..max | command |')
    print('|---|---:|---:|---|')
    for k, label, cmd in online:
        if k in med:
            print(f'| {label} | {fmt(med[k])} | {fmt(lo[k])}..{fmt(hi[k])} | `{cmd}` |')
    print()
if any(k in med for k, _, _ in offline):
    print('Offline: hflip, resize short side 256, centre crop 256, JPEG q90 4:2:0 with the standard Huffman '
          'tables (every tool\'s default), folder to folder; wall clock of whole runs, a fresh output folder each '
          'round, outputs of earlier rounds kept until the end, the tools taking turns to run first.')
    print()
    print('| implementation | images/s (median) | min..max | command |')
    print('|---|---:|---:|---|')
    for k, label, cmd in offline:
        if k in med:
            print(f'| {label} | {fmt(med[k])} | {fmt(lo[k])}..{fmt(hi[k])} | `{cmd}` |')
    print()
# Per round, the two were measured minutes apart at most: the median of the
# per-round ratios is less sensitive to a slow spell than the ratio of medians.
per_round = {}
for r in rows:
    per_round.setdefault(r['round'], {})[r['name']] = r['result']['images_per_second']
print('| ratio | of medians | median of per-round ratios |')
print('|---|---:|---:|')
for label, a, b in ratios:
    if a in med and b in med:
        pr = statistics.median(v[a] / v[b] for v in per_round.values() if a in v and b in v)
        print(f'| {label} | {med[a] / med[b]:.2f}x | {pr:.2f}x |')
EOF
echo
echo "raw results: $RAW; summary: $RES/summary.md"
