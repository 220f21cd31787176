#!/bin/sh
# Peak memory of `augment run` over 2,000 images against 200: memory must not
# grow with the data set (images are streamed, never all loaded).
#
#   bench/memory.sh [build/src/cli/augment]
#
# Makes a 2,000-image corpus from samples/images (random 256..512 px crops,
# PNG and JPEG as the originals), then runs the same pipeline over a 200-image
# subset and over all of it, three times each, under /usr/bin/time -v.
set -eu
AUG=${1:-build/src/cli/augment}
W=${TMPDIR:-/tmp}/augment-memory
rm -rf "$W"
mkdir -p "$W"
"$AUG" run samples/images -o "$W/big" -p 'random_resized_crop 384 scale=0.3:1; hflip' --copies 400 --quiet
mkdir -p "$W/small"
for d in "$W"/big/*/; do
	c=$(basename "$d")
	mkdir -p "$W/small/$c"
	ls "$d" | sort | head -n $(( $(ls "$d" | wc -l) / 10 )) | while read -r f; do cp "$d/$f" "$W/small/$c/"; done
done
n_small=$(find "$W/small" -type f | wc -l)
n_big=$(find "$W/big" -type f | wc -l)
SPEC='random_resized_crop 224; hflip; color_jitter brightness=.4 contrast=.4 saturation=.4; cutout size=56 p=.5'
peak() {
	rm -rf "$W/out"
	/usr/bin/time -v "$AUG" run "$1" -o "$W/out" -p "$SPEC" --threads 2 --quiet 2>&1 |
		awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
}
printf 'images  peak RSS (KiB), 3 runs\n'
s=""; b=""
for r in 1 2 3; do s="$s $(peak "$W/small")"; b="$b $(peak "$W/big")"; done
printf '%6d %s\n%6d %s\n' "$n_small" "$s" "$n_big" "$b"
ms=$(echo $s | tr ' ' '\n' | sort -n | sed -n 2p)
mb=$(echo $b | tr ' ' '\n' | sort -n | sed -n 2p)
awk -v s="$ms" -v b="$mb" 'BEGIN { printf "median: %d KiB for %d images vs %d KiB: ratio %.3f (limit 1.20)\n", b, '"$n_big"', s, b / s; exit !(b / s <= 1.2) }'
rm -rf "$W"
