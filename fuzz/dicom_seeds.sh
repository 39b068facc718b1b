#!/bin/sh
# Writes the seed inputs of fuzz_dicom to fuzz/corpus/fuzz_dicom/ with
# DCMTK's command-line tools (Debian package dcmtk): a 16 x 12 mammogram,
# 12 bits stored, MONOCHROME1, rescale, window and both spacing tags, in
# explicit and implicit VR little endian, RLE, JPEG-LS and JPEG lossless;
# and an 8-bit MONOCHROME2 one.  Run from the source tree:
#   sh fuzz/dicom_seeds.sh
set -eu
out=fuzz/corpus/fuzz_dicom
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/px16.raw", "wb").write(b"".join(struct.pack("<H", (i * 977) & 0xfff) for i in range(192)))
open(d + "/px8.raw", "wb").write(bytes((i * 37) & 255 for i in range(192)))
PY
head() {   # head PHOTOMETRIC BITS_ALLOCATED BITS_STORED
    cat <<EOD
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =DigitalMammographyXRayImageStorageForPresentation
(0008,0018) UI [1.2.826.0.1.3680043.9.7777.1.1]
(0008,0060) CS [MG]
(0018,1164) DS [0.1\\0.1]
(0018,5101) CS [MLO]
(0020,0062) CS [L]
(0028,0002) US 1
(0028,0004) CS [$1]
(0028,0010) US 12
(0028,0011) US 16
(0028,0030) DS [0.07\\0.07]
(0028,0100) US $2
(0028,0101) US $3
(0028,0102) US $(($3 - 1))
(0028,0103) US 0
EOD
}
{ head MONOCHROME1 16 12
  printf '(0028,1050) DS [2000]\n(0028,1051) DS [3000]\n(0028,1052) DS [-10]\n(0028,1053) DS [1.5]\n'
  printf '(7fe0,0010) OW =%s/px16.raw\n' "$tmp"; } >"$tmp/m1.dump"
{ head MONOCHROME2 8 8; printf '(7fe0,0010) OB =%s/px8.raw\n' "$tmp"; } >"$tmp/m2.dump"
dump2dcm +te "$tmp/m1.dump" "$out/mono1_12bit.dcm"
dump2dcm +te "$tmp/m2.dump" "$out/mono2_8bit.dcm"
dcmconv +ti "$out/mono1_12bit.dcm" "$out/implicit.dcm"
dcmcrle "$out/mono1_12bit.dcm" "$out/rle.dcm"
dcmcjpls "$out/mono1_12bit.dcm" "$out/jpeg_ls.dcm"
dcmcjpeg +e1 "$out/mono1_12bit.dcm" "$out/jpeg_lossless.dcm"
