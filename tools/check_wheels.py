"""Does every pinned package install on another Python? Asks PyPI's simple index (no install, no interpreter of
that version needed) whether each `name==version` of a constraints file has a wheel for CPython X.Y on Linux
x86_64, and prints the pins that do not: "sdist only" is fine for pure-Python packages and for the ones the
Makefile compiles (llama-cpp-python), "nothing" is not.

    python tools/check_wheels.py --python 3.12 constraints.txt
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import re
import urllib.request
from pathlib import Path

from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"]


def pins(path: str) -> list[tuple[str, str]]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out.append((name.strip(), version.strip().split("+")[0]))   # a local label (+cpu) is not on PyPI
    return out


def verdict(name: str, version: str, tags: set, index: str) -> str:
    req = urllib.request.Request(f"{index}/{canonicalize_name(name)}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    files = [f["filename"] for f in json.load(urllib.request.urlopen(req, timeout=60))["files"]]
    sdist = False
    for f in files:
        if f.endswith(".whl"):
            try:
                _, v, _, wheel_tags = parse_wheel_filename(f)
            except ValueError:   # old uploads with names no installer accepts
                continue
            if str(v) == version and wheel_tags & tags:
                return "wheel"
        elif re.search(rf"-{re.escape(version)}\.(tar\.gz|zip)$", f):
            sdist = True
    return "sdist only" if sdist else "nothing"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("constraints", nargs="+")
    ap.add_argument("--python", default="3.12", help="X.Y")
    ap.add_argument("--index", default="https://pypi.org/simple")
    args = ap.parse_args()
    version = tuple(int(x) for x in args.python.split("."))
    tags = set(cpython_tags(version, platforms=PLATFORMS)) | set(compatible_tags(version, platforms=PLATFORMS))
    todo = [p for path in args.constraints for p in pins(path)]
    with cf.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(lambda p: verdict(*p, tags, args.index), todo))
    for (name, ver), r in zip(todo, results):
        if r != "wheel":
            print(f"{name}=={ver}: {r}")
    print(f"{len(todo)} pins; {results.count('wheel')} with a wheel for CPython {args.python} on Linux x86_64; "
          f"{results.count('nothing')} with nothing")


if __name__ == "__main__":
    main()
