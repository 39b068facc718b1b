#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses, fuzz/corpus/NAME/, from
nothing but this script and the test fixtures (tests/data): small valid
files of every format, each a few hundred bytes to a few tens of KB.

    tools/fuzz-seeds.py [ROOT]        (default: the repository holding it)

Run it again after changing a format; the files are committed.  The
checkpoint and dissection-state seeds lack their last 8 bytes (the
XXH3-64 the harnesses append), see fuzz/fuzz_checkpoint.c."""
import json
import os
import struct
import sys
import zlib

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- PNG ---------------------------------------------------------------------
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(w, h, depth, ctype, rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_seeds():
    put("fuzz_png", "gray8_4x3.png", png(4, 3, 8, 0, [bytes([0, 60, 120, 255])] * 3))
    put("fuzz_png", "gray16_3x2.png", png(3, 2, 16, 0, [b"\x00\x01\x80\x00\xff\xff"] * 2))
    put("fuzz_png", "gray1_9x2.png", png(9, 2, 1, 0, [b"\xa5\x80"] * 2))
    put("fuzz_png", "gray4_3x2_trns.png",
        png(3, 2, 4, 0, [b"\x1f\xf0"] * 2, chunk(b"tRNS", b"\x00\x01")))
    put("fuzz_png", "palette_2x2.png",
        png(2, 2, 8, 3, [b"\x00\x01"] * 2,
            chunk(b"PLTE", b"\xff\x00\x00\x00\x80\xff") + chunk(b"tRNS", b"\x80")))
    put("fuzz_png", "rgb_2x2.png", png(2, 2, 8, 2, [b"\xff\x00\x00\x00\xff\x00"] * 2,
                                       chunk(b"gAMA", struct.pack(">I", 45455))))
    put("fuzz_png", "rgba16_1x2.png", png(1, 2, 16, 6, [b"\x12\x34" * 4] * 2))
    put("fuzz_png", "gray_alpha_2x1.png", png(2, 1, 8, 4, [b"\x10\xff\x20\x00"]))
    # Adam7: 5x5 8-bit gray, passes laid out by hand (rows of each pass)
    passes = [(1, 1), (1, 1), (2, 1), (1, 2), (3, 1), (2, 3), (5, 2)]
    raw = b"".join(b"\x00" + bytes(range(0, 40 * w, 40))[:w] for w, h in passes for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", 5, 5, 8, 0, 0, 0, 1)
    put("fuzz_png", "gray8_5x5_adam7.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
        chunk(b"tEXt", b"Comment\x00netdx") + chunk(b"IDAT", zlib.compress(raw)) +
        chunk(b"IEND", b""))


# ---- safetensors -------------------------------------------------------------
def safetensors(tensors, meta=None, pad=True):
    """tensors: (name, dtype, shape, bytes)."""
    head, data = {}, b""
    for name, dtype, shape, blob in tensors:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if meta is not None:
        head["__metadata__"] = meta
    h = json.dumps(head, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_seeds():
    f32 = struct.pack("<6f", 1, -2, 0.5, 3, 0, 1e-3)
    put("fuzz_safetensors", "f32.safetensors",
        safetensors([("w", "F32", [2, 3], f32)], {"format": "pt"}))
    put("fuzz_safetensors", "mixed.safetensors", safetensors([
        ("a.weight", "F16", [2, 2], struct.pack("<4e", 1, -1, 0.25, 65504)),
        ("a.bias", "BF16", [2], b"\x80\x3f\x00\xc0"),
        ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
        ("m", "U8", [3], b"\x01\x02\x03")],
        {"arch": "tiny", "num_classes": "2", "input_size": "64"}))
    put("fuzz_safetensors", "empty.safetensors", safetensors([], None, pad=False))
    put("fuzz_safetensors", "scalar_f64.safetensors",
        safetensors([("s", "F64", [], struct.pack("<d", 2.5)), ("z", "F32", [0, 4], b"")]))
    put("fuzz_safetensors", "tiny_head.safetensors", safetensors([
        ("classifier.weight", "F32", [2, 96], b"\x00" * 768),
        ("classifier.bias", "F32", [2], b"\x00" * 8)],
        {"arch": "tiny", "num_classes": "2", "input_size": "64", "format": "pt"}))


# ---- npy ---------------------------------------------------------------------
def npy(shape, values, version=1, descr="<f4"):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    pre = 10 if version == 1 else 12
    total = pre + len(d) + 1
    d += " " * ((64 - total % 64) % 64) + "\n"
    n = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes([version, 0]) + n + d.encode() + struct.pack("<%df" % len(values), *values)


def npy_seeds():
    put("fuzz_npy", "f4_2x3.npy", npy([2, 3], [1, 2, 3, 4, 5, 6]))
    put("fuzz_npy", "f4_4.npy", npy([4], [0.5, -1, 2, 0]))
    put("fuzz_npy", "f4_1x1x2x2_v2.npy", npy([1, 1, 2, 2], [1, 2, 3, 4], version=2))
    put("fuzz_npy", "f4_3_v3.npy", npy([3], [7, 8, 9], version=3))


# ---- CSVs --------------------------------------------------------------------
MANIFEST_HEAD = ("patient_id,breast_density,left_or_right_breast,image_view,abnormality_id,"
                 "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,"
                 "assessment,pathology,subtlety,image_path,mask_path\n")


def csv_seeds():
    put("fuzz_manifest", "lesions.csv", MANIFEST_HEAD +
        "P_00001,3,LEFT,CC,,,,,,,1,,,images/P_00001_LEFT_CC.png,\n"
        "P_00002,4,RIGHT,CC,1,mass,IRREGULAR,ILL_DEFINED,,,4,MALIGNANT,1,"
        "images/P_00002_RIGHT_CC.png,masks/P_00002_RIGHT_CC_1.png\n"
        "P_00003,3,RIGHT,MLO,1,calcification,,,FINE_LINEAR_BRANCHING-VASCULAR,LINEAR,4,"
        "BENIGN,5,images/P_00003_RIGHT_MLO.png,masks/P_00003_RIGHT_MLO_1.png\n"
        "P_00004,2,LEFT,MLO,2,mass,ARCHITECTURAL_DISTORTION,SPICULATED,,,5,"
        "BENIGN_WITHOUT_CALLBACK,3,\"images/P 4, left.png\",\"masks/P_4\"\"2.png\"\r\n")
    put("fuzz_manifest", "one_row.csv", MANIFEST_HEAD +
        "P_9,1,LEFT,CC,,,,,,,0,,,a.png,")
    head = ("patch_id,patient_id,image_path,x,y,w,h,label,split,tissue,image_size,mass_benign,"
            "mass_malignant,calcification_benign,calcification_malignant,vessel_benign,"
            "vessel_malignant,distortion_benign,distortion_malignant\n")
    put("fuzz_patches", "patches.csv", head +
        "0,P_00001,images/P_00001_LEFT_CC.png,0,0,250,250,0,train,0.7254,1000x1600,"
        "0,0,0,0,0,0,0,0\n"
        "1,P_00002,images/P_00002_RIGHT_CC.png,125,0,250,250,1,val,1.0000,1000x1600,"
        "0.0000,0.4000,0,0,0,0,0,0\n"
        "2,P_00003,images/P_00003_RIGHT_CC.png,750,1350,250,250,1,test,0.5,1000x1600,"
        "0,0,0,0.9,0,0,0,0.1\n")
    put("fuzz_patches", "header_only.csv", head)
    cbis = os.path.join(ROOT, "tests", "data", "cbis")
    for name in sorted(os.listdir(cbis)):
        with open(os.path.join(cbis, name), "rb") as f:
            put("fuzz_cbis", name, f.read())


# ---- checkpoint (without its 8-byte checksum) --------------------------------
def ckpt(scalars, arrays, epoch=2, batch=5, step=17):
    meta = b""
    for name, v in scalars:
        meta += struct.pack("<H", len(name)) + name.encode() + struct.pack("<d", v)
    for name, vals in arrays:
        meta += struct.pack("<H", len(name)) + name.encode() + struct.pack("<Q", len(vals))
    data = b"".join(struct.pack("<%df" % len(v), *v) for _, v in arrays)
    size = 88 + len(meta) + len(data) + 8
    head = (b"NDXCKPT1" + struct.pack("<IIQ", 1, len(meta), size) +
            struct.pack("<qqq", epoch, batch, step) + struct.pack("<4Q", 1, 2, 3, 4) +
            struct.pack("<II", len(scalars), len(arrays)))
    return head + meta + data


def ckpt_seeds():
    arrays = [("w", [0.5, -1, 2, 3, 4, 5]), ("b", [0.25, 0])]
    put("fuzz_checkpoint", "two_scalars", ckpt([("lr", 0.01), ("best_auc", 0.75)], arrays))
    put("fuzz_checkpoint", "no_scalars", ckpt([], arrays[::-1], 0, 0, 0))
    put("fuzz_checkpoint", "extra_array", ckpt([("x", 1)], arrays + [("c", [1.0])]))


# ---- dissection state (without its 8-byte checksum) --------------------------
SK_BINS, HIST_BINS = 2561, 256


def state(n_stats, hist_mode):
    U, H, W, K, M = 1, 2, 2, 2, 1
    head = b"NDXDISS\x00" + struct.pack("<II", 3, 0x01020304)
    head += b"features.17".ljust(64, b"\x00") + b"mass".ljust(32, b"\x00") + b"\x00" * 32 * 7
    head += struct.pack("<8i", U, H, W, K, M, 0, 0, 0)
    head += struct.pack("<2d", 0.005, 0.2) + struct.pack("<3Q", n_stats, 0, min(n_stats, 1))
    head += struct.pack("<4i", hist_mode, 8 if hist_mode else 0, 8 if hist_mode else 0, 64)
    head += struct.pack("<8Q", *([3] + [0] * 7))
    head += struct.pack("<4i2Q", 0, 0, 0, 0, 0, 0)   # no provenance (src_set 0)
    maps = [[0.5, 2.0, 0.25, 1.0], [0.1, 0.2, 0.3, 0.4]]
    n = min(n_stats, K)
    sketch = [0] * SK_BINS
    sketch[SK_BINS // 2 + 40] = n_stats * H * W
    body = struct.pack("<f", float("nan")) + struct.pack("<f", 2.0 if n else float("-inf"))
    body += struct.pack("<d", 3.5 * n_stats) + struct.pack("<%dQ" % SK_BINS, *sketch)
    body += struct.pack("<QQ", 0, 0) + struct.pack("<i", n)
    # the heap's root is the worst entry: slot 1 (0.4) above slot 0 (2.0)
    body += struct.pack("<2i", *([1, 0] if n == 2 else list(range(n)) + [0] * (K - n)))
    body += struct.pack("<2f", *[max(maps[i]) if i < n else 0 for i in range(K)])
    body += struct.pack("<2q", *[10 + i if i < n else 0 for i in range(K)])
    body += struct.pack("<2i", *[maps[i].index(max(maps[i])) if i < n else 0 for i in range(K)])
    body += bytes([1 if i == 0 and n else 0 for i in range(K)])
    body += b"".join(struct.pack("<4f", *maps[i]) if i < n else b"\x00" * 16 for i in range(K))
    if hist_mode:
        body += struct.pack("<3i", 0, 0, -1) + b"\x00" * ((1 + M) * HIST_BINS * 8)
    return head + body


def state_seeds():
    put("fuzz_dissect_state", "empty", state(0, 0))
    put("fuzz_dissect_state", "two_patches", state(2, 0))
    put("fuzz_dissect_state", "one_pass_windows", state(1, 1))


# ---- survey answer bodies and the report's answers.jsonl ----------------------
def survey_seeds():
    answer = {"recognizable": "yes", "association": "malignant", "multiplicity": "single",
              "phenomena": [{"descriptors": ["finding.mass", "mass_margin.spiculated"],
                             "text": "spiculated mass", "association": "malignant",
                             "confidence": 4}], "comment": "clear"}
    put("fuzz_survey_answer", "full.json",
        json.dumps({"unit": 1, "answer": answer, "seconds": 12.5}))
    put("fuzz_survey_answer", "minimal.json",
        json.dumps({"unit": 3, "answer": {"recognizable": "no"}, "seconds": 0, "reader": 1}))
    put("fuzz_survey_answer", "nulls.json", json.dumps(
        {"unit": 2, "seconds": 3, "answer": {"recognizable": "unsure", "association": None,
                                             "multiplicity": None, "phenomena": None,
                                             "comment": None}}))
    put("fuzz_survey_answer", "text_only.json", json.dumps(
        {"unit": 6, "seconds": 1e3, "answer": {"phenomena": [
            {"descriptors": [], "text": "fine linear branching calcifications",
             "association": "both", "confidence": None}]}}))
    with open(os.path.join(ROOT, "tests", "data", "report", "answers.jsonl"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    put("fuzz_report_answers", "first_two.jsonl", b"".join(lines[:2]))
    put("fuzz_report_answers", "all.jsonl", b"".join(lines))
    hist = json.loads(lines[0])
    hist["revision"], hist["revisions"] = 1, 2
    newer = dict(hist, revision=2, recognizable="unsure", phenomena=[])
    put("fuzz_report_answers", "history.jsonl",
        json.dumps(hist) + "\n" + json.dumps(newer) + "\n")


# ---- the lexicon -------------------------------------------------------------
def lexicon_seeds():
    with open(os.path.join(ROOT, "data", "birads-lexicon.json"), "rb") as f:
        full = f.read()
    put("fuzz_lexicon", "birads-lexicon.json", full)
    lex = json.loads(full)
    lex["categories"] = [dict(c, descriptors=c["descriptors"][:2]) for c in lex["categories"][:3]]
    lex.pop("matching_notes", None)
    put("fuzz_lexicon", "three_categories.json", json.dumps(lex, indent=1))


if __name__ == "__main__":
    png_seeds()
    st_seeds()
    npy_seeds()
    csv_seeds()
    ckpt_seeds()
    state_seeds()
    survey_seeds()
    lexicon_seeds()
