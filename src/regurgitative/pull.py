"""`make pull`: `dvc pull`, and when an object in the remote does not match its hash, say so, name it and say
what to delete from the remote before pushing it again.

With `verify = true` on the remote (the default remote has it), DVC re-hashes what it downloads and refuses a
corrupted object, but it only reports "Checkout failed ... Is your cache up to date?" and logs the mismatch at
debug level. So after a failed pull this asks once more with -v (only the refused objects are fetched again:
DVC removed them from the cache) and reads the refused objects from that log.

    python -m regurgitative.pull [dvc pull arguments, e.g. -r myremote or targets]
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

DVC = [sys.executable, "-m", "dvc"]
CORRUPTED = re.compile(r"corrupted cache file '[^']*?(?P<oid>files/md5/[0-9a-f]{2}/[0-9a-f]+(?:\.dir)?)'")


def object_path(md5: str) -> str:
    """Where an object lies in the cache and in every remote."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def corrupted_objects(dvc_log: str) -> list[str]:
    return sorted({m["oid"] for m in CORRUPTED.finditer(dvc_log)})


def owners(objects: list[str], lock: Path, cache: Path) -> dict[str, list[str]]:
    """For each object: the workspace files it holds and the directory listings (.dir objects) that name it.
    Those listings must go too: DVC takes a listing on the remote as proof that all its files are there."""
    found: dict[str, list[str]] = {o: [] for o in objects}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}) if lock.exists() else {}
    for out in (o for stage in stages.values() for o in stage.get("outs", []) if "md5" in o):
        path = object_path(out["md5"])
        if path in found:
            found[path].append(out["path"])
        listing = cache / path
        if out["md5"].endswith(".dir") and listing.exists():
            for entry in json.loads(listing.read_text()):
                if object_path(entry["md5"]) in found:
                    found[object_path(entry["md5"])] += [f"{out['path']}/{entry['relpath']}", path]
    return found


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if subprocess.run([*DVC, "pull", *args]).returncode == 0:
        return 0
    retry = subprocess.run([*DVC, "pull", "-v", *args], capture_output=True, text=True)
    if retry.returncode == 0:  # a transient failure (network) that went away
        return 0
    bad = corrupted_objects(retry.stdout + retry.stderr)
    if not bad:
        return 1
    cache = Path(subprocess.run([*DVC, "cache", "dir"], capture_output=True, text=True).stdout.strip() or ".dvc/cache")
    found = owners(bad, Path("dvc.lock"), cache)
    print(f"ERROR: {len(bad)} object(s) in the DVC remote do not match their hash (corrupted there, or changed "
          "after they were pushed), so they were not checked out:", file=sys.stderr)
    for oid in bad:
        files = [p for p in found[oid] if not p.startswith("files/md5/")]
        print(f"  {oid}  {' '.join(files) or '(not in dvc.lock)'}", file=sys.stderr)
    to_delete = sorted(set(bad) | {p for oid in bad for p in found[oid] if p.startswith("files/md5/")})
    print("To repair, delete these from the remote (the objects and the directory listings that name them), then "
          "`dvc push` from a machine that has the outputs; DVC never replaces an object the remote already has:",
          file=sys.stderr)
    for path in to_delete:
        print(f"  {path}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
