# The ImageNet training recipe of torchvision's reference scripts:
# a random box of 8-100% of the area and aspect 3/4..4/3, resized to 224x224,
# flipped half the time, colour jittered, normalised with ImageNet statistics.
random_resized_crop 224 scale=0.08:1 ratio=3/4:4/3
hflip
color_jitter brightness=0.4 contrast=0.4 saturation=0.4 hue=0.1
normalize mean=imagenet std=imagenet
