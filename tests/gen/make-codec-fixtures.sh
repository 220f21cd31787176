#!/bin/sh
# Regenerate tests/fixtures/codec/: small JPEGs of every kind the decoder
# must handle, each with a reference decode made by tools independent of
# libaugment (libjpeg-turbo's djpeg, PIL). The suite compares against these
# files byte for byte.
#
#   tests/gen/make-codec-fixtures.sh          (from the source root)
#
# Needs: cjpeg, djpeg (libjpeg-turbo-progs), ImageMagick's convert, and
# /usr/bin/python3 with PIL and numpy. The source pixels are a crop of
# samples/images/people/astronaut.png, so the output is reproducible.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/tests/fixtures/codec"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$out"
rm -f "$out"/*.jpg "$out"/*.ppm "$out"/*.pgm "$out"/*.png

# Sources: 141x93 (odd, not a multiple of any MCU size) and 45x29 for the
# orientation set.
"$py" - "$root/samples/images/people/astronaut.png" "$tmp" <<'EOF'
import sys
from PIL import Image
src, tmp = sys.argv[1], sys.argv[2]
im = Image.open(src).convert("RGB")
im.crop((180, 60, 180 + 141, 60 + 93)).save(tmp + "/base.ppm")
im.crop((150, 20, 150 + 45 * 4, 20 + 29 * 4)).resize((45, 29), Image.BOX).save(tmp + "/small.ppm")
# A PNG and PIL's own grey conversion of it: the oracle for RGB->grey.
im.crop((300, 300, 300 + 67, 300 + 41)).save(sys.argv[2] + "/rgb.png")
EOF

# The JPEG kinds, with djpeg's decode as the reference (djpeg defaults:
# JDCT_ISLOW, fancy upsampling, as the decoder under test uses).
cjpeg -quality 85 -sample 2x2 "$tmp/base.ppm" >"$out/b420.jpg"
cjpeg -quality 85 -sample 1x1 "$tmp/base.ppm" >"$out/b444.jpg"
cjpeg -quality 85 -sample 2x1 "$tmp/base.ppm" >"$out/b422.jpg"
cjpeg -quality 85 -progressive "$tmp/base.ppm" >"$out/prog.jpg"
cjpeg -quality 85 -sample 1x1 -progressive "$tmp/base.ppm" >"$out/prog444.jpg"
cjpeg -quality 85 -arithmetic "$tmp/base.ppm" >"$out/arith.jpg"
cjpeg -quality 85 -grayscale "$tmp/base.ppm" >"$out/grey.jpg"
cjpeg -quality 85 -restart 5B "$tmp/base.ppm" >"$out/restart.jpg"
for f in b420 b444 b422 prog prog444 arith restart; do
	djpeg -pnm "$out/$f.jpg" >"$out/$f.ppm"
done
djpeg -pnm "$out/grey.jpg" >"$out/grey.pgm"
# Grey output of a colour JPEG is its Y plane: djpeg -grayscale.
djpeg -grayscale -pnm "$out/b420.jpg" >"$out/b420-grey.pgm"
# DCT-scaled whole decodes, for the scaled region decodes.
for s in 2 4 8; do
	djpeg -scale 1/$s -pnm "$out/b420.jpg" >"$out/b420-s$s.ppm"
done

# CMYK (Adobe APP14, transform 0: PIL writes inverted CMYK) and YCCK
# (transform 2: ImageMagick). djpeg converts both to RGB with
# R = round(C*K/255) (libjpeg-turbo cmyk.h); the script checks that PIL's
# CMYK->RGB agrees before trusting either.
"$py" - "$tmp" "$out" <<'EOF'
import sys
from PIL import Image
tmp, out = sys.argv[1], sys.argv[2]
Image.open(tmp + "/base.ppm").convert("CMYK").save(out + "/cmyk.jpg", quality=90)
EOF
convert "$tmp/base.ppm" -colorspace CMYK -sampling-factor 1x1 -quality 90 "$out/ycck.jpg"
for f in cmyk ycck; do
	djpeg -pnm "$out/$f.jpg" >"$out/$f.ppm"
done
"$py" - "$out" <<'EOF'
import sys
import numpy as np
from PIL import Image
out = sys.argv[1]
for f in ("cmyk", "ycck"):
    im = Image.open(f"{out}/{f}.jpg")
    assert im.mode == "CMYK", im.mode
    ours = np.asarray(Image.open(f"{out}/{f}.ppm"))
    pil = np.asarray(im.convert("RGB"))
    d = np.abs(ours.astype(int) - pil.astype(int)).max()
    assert d == 0, f"{f}: djpeg and PIL disagree by {d}"
EOF
# The Adobe APP14 transform byte: cmyk must be 0 (CMYK), ycck 2 (YCCK).
"$py" - "$out" <<'EOF'
import sys
out = sys.argv[1]
for f, want in (("cmyk", 0), ("ycck", 2)):
    b = open(f"{out}/{f}.jpg", "rb").read()
    i = b.find(b"\xff\xee")
    assert i > 0 and b[i + 4:i + 9] == b"Adobe" and b[i + 15] == want, f
EOF

# 12-bit: cjpeg here is 8-bit only, so patch the SOF precision byte of an
# 8-bit file. A decoder must refuse it clearly, not decode garbage.
"$py" - "$out" <<'EOF'
import sys
out = sys.argv[1]
b = bytearray(open(f"{out}/b420.jpg", "rb").read())
i = b.find(b"\xff\xc0")
assert i > 0 and b[i + 4] == 8
b[i + 4] = 12
open(f"{out}/p12.jpg", "wb").write(b)
EOF

# Cut in the middle of the entropy-coded data: libjpeg warns "Premature end
# of JPEG file" and fills the rest with grey. djpeg writes that partial
# image (and exits 2 for the warning); it is the reference.
"$py" - "$out" <<'EOF'
import sys
out = sys.argv[1]
b = open(f"{out}/b420.jpg", "rb").read()
open(f"{out}/trunc-scan.jpg", "wb").write(b[: len(b) * 3 // 5])
EOF
djpeg -pnm "$out/trunc-scan.jpg" >"$out/trunc-scan.ppm" 2>/dev/null || test $? -eq 2

# EXIF orientation 1..8 on a small 4:2:0 JPEG: an APP1 "Exif" segment with
# IFD0 holding tag 0x0112, little-endian (II) for even values and
# big-endian (MM) for odd ones, inserted after SOI. The references are PIL's
# ImageOps.exif_transpose() of the file, after checking PIL decodes the
# pixels exactly as djpeg does.
cjpeg -quality 90 -sample 2x2 "$tmp/small.ppm" >"$tmp/small.jpg"
"$py" - "$tmp" "$out" <<'EOF'
import io, struct, sys
import numpy as np
from PIL import Image, ImageOps
tmp, out = sys.argv[1], sys.argv[2]
base = open(tmp + "/small.jpg", "rb").read()
assert base[:2] == b"\xff\xd8"
for o in range(1, 9):
    e = "<" if o % 2 == 0 else ">"
    tiff = (b"II" if e == "<" else b"MM") + struct.pack(e + "HI", 42, 8)
    # Two entries, orientation second, so the walk over IFD0 matters.
    tiff += struct.pack(e + "H", 2)
    tiff += struct.pack(e + "HHI", 0x010F, 2, 4) + b"Cam\0"
    tiff += struct.pack(e + "HHIH", 0x0112, 3, 1, o) + b"\0\0"
    tiff += struct.pack(e + "I", 0)
    payload = b"Exif\0\0" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = base[:2] + app1 + base[2:]
    name = f"{out}/orient-{o}.jpg"
    open(name, "wb").write(data)
    im = Image.open(name)
    assert im.getexif().get(0x0112) == o
    im.load()
    ImageOps.exif_transpose(im).save(f"{out}/orient-{o}.ppm")
import subprocess
dj = subprocess.run(["djpeg", "-pnm", f"{out}/orient-1.jpg"], capture_output=True, check=True).stdout
assert np.array_equal(np.asarray(Image.open(io.BytesIO(dj))), np.asarray(Image.open(f"{out}/orient-1.ppm")))
EOF

# RGB->grey oracle: PIL's convert("L") of a PNG.
cp "$tmp/rgb.png" "$out/rgb.png"
"$py" - "$out" <<'EOF'
import sys
from PIL import Image
out = sys.argv[1]
Image.open(out + "/rgb.png").convert("L").save(out + "/rgb-L.pgm")
EOF

du -sh "$out"
