#!/bin/sh
# The lecture's thesis on real data: what each regulariser does to the gap
# between training and test accuracy. A 6,000-image Fashion-MNIST training
# subset (the first 6,000 of the training file), the 6,000 first test images,
# the reference model, 15 epochs of SGD with momentum and a cosine schedule:
#
#   none          no augmentation, no dropout, no weight decay
#   augmentation  + crop 28 pad=2, hflip
#   dropout       + dropout 0.5 in the hidden layer (samples/models/fmnist.model)
#   L2            + weight decay 5e-4 on conv and linear weights
#   all + early   all three, 10% held out, early stopping (patience 3) with the
#                 best epoch's weights restored; and again with up to 40 epochs
#                 (patience 5)
#
# Train accuracy is measured afterwards on the clean training images (the
# evaluation pipeline), not on augmented batches.
#
#   bench/regularization.sh [build/src/cli/augment]     (about 4 minutes on 2 cores)
#
# The README's table is this output:
#   bench/regularization.sh > reg.md && scripts/update-readme --section regularization reg.md
set -eu
AUG=${1:-build/src/cli/augment}
W=${TMPDIR:-/tmp}/augment-regularization
EPOCHS=${EPOCHS:-15}
mkdir -p "$W"
if [ ! -d "$W/fm/train" ]; then
	"$AUG" import fashion-mnist /usr/share/datasets/fashion-mnist -o "$W/fm" --limit 6000 --quiet
fi
NODROP=samples/models/fmnist-nodropout.model
DROP=samples/models/fmnist.model
AUGP='crop 28 pad=2; hflip'
NONE='center_crop 28'
COMMON="--epochs $EPOCHS --batch 128 --lr 0.05 --schedule cosine --seed 1 --quiet"

acc() { # model, data -> accuracy in percent
	"$AUG" eval "$1" "$2" --json | sed 's/^{"images":[0-9]*,"accuracy":\([0-9.]*\).*/\1/' | awk '{printf "%.2f", $1 * 100}'
}

run() { # name, extra options...
	name=$1
	shift
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$AUG" train "$W/fm/train" $COMMON -o "$W/$name.ckpt" "$@" > "$W/$name.log"
	t1=$(date +%s)
	tr=$(acc "$W/$name.ckpt" "$W/fm/train")
	te=$(acc "$W/$name.ckpt" "$W/fm/test")
	gap=$(awk -v a="$tr" -v b="$te" 'BEGIN { printf "%.1f", a - b }')
	printf '| %s | %s%% | %s%% | %s | %ss |\n' "$name" "$tr" "$te" "$gap" $((t1 - t0))
}

echo "| configuration | train accuracy | test accuracy | gap (points) | time |"
echo "|---|---:|---:|---:|---:|"
run none -m $NODROP -p "$NONE" --val 0
run "+ augmentation" -m $NODROP -p "$AUGP" --val 0
run "+ dropout" -m $DROP -p "$NONE" --val 0
run "+ L2" -m $NODROP -p "$NONE" --val 0 --l2 5e-4
run "all + early stopping" -m $DROP -p "$AUGP" --l2 5e-4 --val 0.1 --patience 3
# The same with a longer budget: combined regularisation learns more slowly.
run "all + early stopping, 40 epochs" -m $DROP -p "$AUGP" --l2 5e-4 --val 0.1 --patience 5 --epochs 40
