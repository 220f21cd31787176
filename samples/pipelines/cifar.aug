# The CIFAR-10 recipe (He et al. 2016; DeVries & Taylor 2017):
# pad 4 and take a random 32x32 crop, flip half the time, cut out a 16x16 square.
crop 32 pad=4
hflip
cutout size=16
