#!/usr/bin/python3
"""The shared library's surface is exactly the public headers.

    tests/check_exports.py LIBNETDX_SO [HEADER...]   (default include/*.h)

Lists the dynamic symbols the library defines (nm -D --defined-only) and
fails when one of them is not a name the headers declare, or when a
function or variable the headers declare is not exported (a program could
not link against it).  Prints one line per fault, then a summary.
"""
import glob
import re
import subprocess
import sys


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_names(paths):
    """(every ndx_ identifier, the functions and variables declared)."""
    names, declared = set(), set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            code = strip_comments(f.read())
        code = "\n".join(l for l in code.splitlines() if not l.lstrip().startswith("#"))
        names.update(re.findall(r"\bndx_\w+", code))
        # a function: a name followed by "(", but not a typedef of a
        # function pointer, "(*ndx_x)("
        for m in re.finditer(r"(?<!\(\*)\b(ndx_\w+)\s*\(", code):
            declared.add(m.group(1))
        for m in re.finditer(r"\bextern\s+(?!\")[^;(]*?\b(ndx_\w+)\s*[\[;]", code):
            declared.add(m.group(1))
    return names, declared


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            syms.add(parts[2].split("@")[0])
    return syms


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lib = sys.argv[1]
    headers = sys.argv[2:] or sorted(glob.glob("include/*.h"))
    names, declared = header_names(headers)
    syms = exported(lib)
    faults = 0
    for s in sorted(syms - names):
        print(f"check_exports: {lib} exports {s}, which no public header declares")
        faults += 1
    for s in sorted(declared - syms):
        print(f"check_exports: {s} is declared in include/ but {lib} does not export it")
        faults += 1
    print(f"check_exports: {len(syms)} exported, {len(declared)} declared in "
          f"{len(headers)} headers, {faults} faults")
    print(f"exports: {1 if faults == 0 else 0} passed, {1 if faults else 0} failed")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
