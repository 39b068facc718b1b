#!/usr/bin/python3
"""No function over 120 lines outside kernels/ and tests/, no source file
over 800 lines (docs/layers.md, "Size bounds").

    tests/check_sizes.py [ALLOW]        (default tests/size-allow.txt)

ALLOW lists today's offenders, one a line:
    file PATH LINES            a file of at most LINES lines
    func PATH NAME LINES       a function of at most LINES lines
An offender may shrink, never grow past its line; a line whose offender is
back under the bound (or gone) is reported so that it can be removed.
A function runs from the first line of its signature to the "}" in column
0 that closes the "{" in column 0 opening its body (the code's style).
"""
import glob
import re
import sys

MAX_FUNC, MAX_FILE = 120, 800
TOPS = ("kernels", "src", "include", "tools", "tests", "bench")
NAME = re.compile(r"([A-Za-z_]\w*)\s*\(")


def functions(lines):
    """(name, first line, length) of each function definition."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != "{":
            i += 1
            continue
        start = i - 1   # the signature: back to a blank line, ";", "}" or "*/"
        while start > 0:
            prev = lines[start - 1].rstrip()
            if not prev or prev.endswith((";", "}", "*/")) or prev.startswith("#"):
                break
            start -= 1
        sig = " ".join(l.strip() for l in lines[start:i])
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "}":
            end += 1
        m = NAME.search(sig)
        if m and "=" not in sig.split("(")[0]:
            out.append((m.group(1), start + 1, end - start + 1))
        i = end + 1
    return out


def main():
    allow_path = sys.argv[1] if len(sys.argv) > 1 else "tests/size-allow.txt"
    allow = {}
    with open(allow_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            w = line.split("#", 1)[0].split()
            if not w:
                continue
            if w[0] == "file" and len(w) == 3:
                allow[("file", w[1], "")] = int(w[2])
            elif w[0] == "func" and len(w) == 4:
                allow[("func", w[1], w[2])] = int(w[3])
            else:
                sys.exit(f"check_sizes: {allow_path}:{n}: expected 'file PATH N' or "
                         f"'func PATH NAME N'")
    files = sorted({p for t in TOPS for p in glob.glob(f"{t}/**/*.[ch]", recursive=True)})
    faults, seen = 0, set()

    def over(kind, path, name, size, bound, where):
        nonlocal faults
        key = (kind, path, name)
        if key in allow:
            seen.add(key)
            if size <= allow[key]:
                return
            print(f"check_sizes: {where}: {size} lines, more than the {allow[key]} "
                  f"{allow_path} allows")
        else:
            print(f"check_sizes: {where}: {size} lines, more than {bound}")
        faults += 1

    nfuncs = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) > MAX_FILE:
            over("file", path, "", len(lines), MAX_FILE, path)
        if path.startswith(("kernels/", "tests/")):
            continue
        for name, first, size in functions(lines):
            nfuncs += 1
            if size > MAX_FUNC:
                over("func", path, name, size, MAX_FUNC, f"{path}:{first}: {name}")
    for key in sorted(set(allow) - seen):
        kind, path, name = key
        print(f"check_sizes: {allow_path}: {kind} {path} {name} is within bounds now (or "
              f"gone): remove the line")
    print(f"check_sizes: {len(files)} files, {nfuncs} functions, {len(seen)} allowed "
          f"offenders, {faults} faults")
    print(f"sizes: {0 if faults else 1} passed, {1 if faults else 0} failed")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
