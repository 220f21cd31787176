# Every stage once, to see what each does (augment grid --per-stage).
resize short=256
random_resized_crop 224 scale=0.25:1
crop 200 pad=12 fill=reflect
center_crop 192
hflip
vflip p=0.2
color_jitter brightness=0.4 contrast=0.4 saturation=0.4 hue=0.1
hsl_jitter hue=30 saturation=0.3 lightness=0.2
cutout holes=2 size=64 fill=0
cutout scale=0.02:0.2 ratio=0.3:3.3 fill=random p=0.5
grayscale p=0.1
normalize mean=imagenet std=imagenet
