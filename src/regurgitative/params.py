"""What params.yaml says: loading it (checked by regurgitative.validation first), reading a key with an error
that names it, and the grid's runs. When RECORD_PARAMS_ENV names a directory, every stage records which keys it
read there, so that tests/test_dvc_deps.py can check them against the stage's `params` in dvc.yaml."""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

PARAMS = Path("params.yaml")


class ParamsError(KeyError):
    """A key is missing from params.yaml (or has the wrong type); the message names it."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


# When this environment variable names a directory, every stage records which params keys it read there (one JSON
# file per command line), so that a test can check them against the stage's `params` in dvc.yaml
# (tests/test_dvc_deps.py): DVC reruns a stage only when a key it declares changes.
RECORD_PARAMS_ENV = "REGURGITATIVE_RECORD_PARAMS"


class ReadRecorder(dict):
    """A params mapping that records the dotted path of every key read: a leaf when its value is read, a whole
    section when it is iterated or copied. A key asked for and missing is recorded too (its absence is read).
    Emptiness (`len`, `bool`) is not recorded as a read of the section."""

    def __init__(self, data: dict, prefix: str = "", record: set[str] | None = None):
        super().__init__(data)
        self._prefix = prefix
        self._record = record if record is not None else set()

    def _child(self, key: Any, value: Any) -> Any:
        if isinstance(value, dict):
            return ReadRecorder(value, f"{self._prefix}{key}.", self._record)
        self._record.add(f"{self._prefix}{key}")
        return value

    def _all(self) -> None:
        self._record.add(self._prefix.rstrip(".") or "<all>")

    def __getitem__(self, key: Any) -> Any:
        if not dict.__contains__(self, key):
            self._record.add(f"{self._prefix}{key}")
        return self._child(key, dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if dict.__contains__(self, key) else (self._record.add(f"{self._prefix}{key}") or default)

    def __contains__(self, key: object) -> bool:
        present = dict.__contains__(self, key)
        if not (present and isinstance(dict.__getitem__(self, key), dict)):  # a section's presence reads nothing in it
            self._record.add(f"{self._prefix}{key}")
        return present

    def __iter__(self):
        self._all()
        return dict.__iter__(self)

    def keys(self):
        self._all()
        return dict.keys(self)

    def items(self):
        self._all()
        return dict.items(self)

    def values(self):
        self._all()
        return dict.values(self)

    def __reduce__(self):  # copy/deepcopy/pickle: a plain dict (the copy reads everything)
        self._all()
        return dict, (dict(dict.items(self)),)


_PARAMS_READ: set[str] = set()  # what this process read, from every load_params()


def _record_params_read(record: set[str]) -> None:
    import __main__
    spec = getattr(__main__, "__spec__", None)
    command = " ".join(["python", "-m", spec.name if spec else Path(sys.argv[0]).name, *sys.argv[1:]])
    out = Path(os.environ[RECORD_PARAMS_ENV])
    out.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(command.encode()).hexdigest()[:16]
    (out / f"{name}.json").write_text(json.dumps({"cmd": command, "read": sorted(record)}, indent=1) + "\n")


def load_params(path: Path | str = PARAMS) -> dict[str, Any]:
    # validation only accepts or refuses the file before any stage writes: it is exempt from the stages' deps
    # (tests/test_dvc_deps.py, NOT_DEPENDENCIES), so that rewording a message does not rerun the study
    from regurgitative.validation import check_decoding, check_grid
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            params = yaml.safe_load(f)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the repository root or choose a profile "
                          f"(`make profile PROFILE=default`)") from None
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    check_grid(params, path)
    check_decoding(params, path)
    if os.environ.get(RECORD_PARAMS_ENV):
        if not getattr(_record_params_read, "registered", False):
            atexit.register(_record_params_read, _PARAMS_READ)
            _record_params_read.registered = True
        params = ReadRecorder(params, record=_PARAMS_READ)
    return params

def param(params: dict[str, Any], dotted: str, path: Path | str = PARAMS) -> Any:
    """params['a']['b'] for dotted='a.b', with an error that names the missing key and the file."""
    node: Any = params
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "<top level>"
            raise ParamsError(f"{path}: missing key '{dotted}' (no '{key}' under {where})")
        node = node[key]
    return node


def generator_names(params: dict[str, Any]) -> list[str]:
    """Every generator of the grid: LLMs (stage generate@) and fairseq teachers (stage teacher@)."""
    return [*param(params, "grid.generators"), *(params["grid"].get("teachers") or [])]


def grid_sizes(params: dict[str, Any]) -> dict[str, list[int]]:
    """Every condition the grid trains and its training sizes: grid.conditions at grid.train_sizes (E1), and
    the mitigation conditions (grid.mitigations, built by mitigate@) at grid.mitigation_sizes."""
    sizes = {c: [int(n) for n in param(params, "grid.train_sizes")] for c in param(params, "grid.conditions")}
    for m in params["grid"].get("mitigations") or []:
        sizes[m] = [int(n) for n in param(params, "grid.mitigation_sizes")]
    return sizes


def grid_runs(params: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(condition, train_size, seed) of every student the grid trains."""
    seeds = [int(s) for s in param(params, "grid.seeds")]
    return [(c, n, s) for c, sizes in grid_sizes(params).items() for n in sizes for s in seeds]
