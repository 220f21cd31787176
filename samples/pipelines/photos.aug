# Offline augmentation of photos: a random crop of 35-100% of the image at
# 224x224, a flip half the time, mild colour jitter, and a cutout half the time.
random_resized_crop 224 scale=0.35:1
hflip
color_jitter brightness=0.3 contrast=0.3 saturation=0.3 hue=0.05
cutout size=48 p=0.5
