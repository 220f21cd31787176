#!/bin/sh
# End-to-end training speed: augment train against PyTorch (ImageFolder,
# torchvision transforms, DataLoader, the same model and pipeline) on the
# first 20,000 Fashion-MNIST training images, 2 threads, interleaved rounds;
# each round times the second epoch of a 2-epoch run (files in the page
# cache, workers warm). PyTorch runs with 1 and 2 DataLoader workers, and
# with 1 worker and glibc keeping freed memory. Prints images/s per round
# and the medians.
#
#   bench/train_e2e.sh [build/src/cli/augment]      ROUNDS=3 by default
set -eu
AUG=${1:-build/src/cli/augment}
ROUNDS=${ROUNDS:-3}
W=${TMPDIR:-/tmp}/augment-e2e
mkdir -p "$W"
[ -d "$W/fm/train" ] || "$AUG" import fashion-mnist /usr/share/datasets/fashion-mnist -o "$W/fm" --limit 20000 --quiet
aug_round() {
	"$AUG" train "$W/fm/train" -m samples/models/fmnist.model -p 'crop 28 pad=2; hflip' --epochs 2 \
		--batch 128 --lr 0.05 --val 0 --threads 2 -o "$W/m.ckpt" |
		awk '$1 == 2 && $8 ~ /s$/ {print $7}'
}
torch_round() { # workers
	OMP_NUM_THREADS=2 /usr/bin/python3 bench/train_e2e.py "$W/fm/train" --epochs 2 --workers "$1" --threads 2 |
		tail -1 | sed 's/.*"images_per_second": \([0-9.]*\).*/\1/'
}
# The same with glibc told to keep freed memory, as bench/nn_bench.py's
# "torch+malloc" (PyTorch allocates its activations afresh every step).
torch_malloc_round() { # workers
	MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456 torch_round "$1"
}
a="" t1="" t2="" t3=""
for r in $(seq 1 "$ROUNDS"); do
	x=$(aug_round); y=$(torch_round 1); z=$(torch_round 2); u=$(torch_malloc_round 1)
	echo "round $r: augment $x img/s, pytorch (1 worker) $y img/s, pytorch (2 workers) $z img/s, pytorch+malloc (1 worker) $u img/s"
	a="$a $x"; t1="$t1 $y"; t2="$t2 $z"; t3="$t3 $u"
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(med $a); m1=$(med $t1); m2=$(med $t2); m3=$(med $t3)
echo "median: augment $ma img/s; pytorch $m1 (1 worker), $m2 (2 workers), $m3 (+malloc, 1 worker)"
awk -v a="$ma" -v b="$m1" -v c="$m2" -v d="$m3" 'BEGIN { m = b > c ? b : c; m = m > d ? m : d
	printf "augment / best pytorch: %.2fx\n", a / m }'
