"""The manifest of optional model files (weights/*.toml) and the check of what is present."""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

MANIFEST_DIR = Path(__file__).resolve().parents[1] / "weights"
FIELDS = ("name", "path", "sha256", "licence", "source", "used_by")


def weights_dir() -> Path:
    return Path(os.environ.get("DOPPEL_WEIGHTS_DIR", Path.home() / ".cache" / "doppel" / "weights"))


@dataclass(frozen=True)
class WeightEntry:
    name: str
    path: str
    sha256: str
    licence: str
    source: str
    used_by: str
    base_env: str = ""        # env var naming the folder `path` is relative to ("" = weights dir)
    base_package: str = ""    # installed Python package whose folder `path` is relative to

    def location(self) -> Path:
        base = os.environ.get(self.base_env) if self.base_env else None
        if not base and self.base_package:
            base = _package_dir(self.base_package)
        return (Path(base) if base else weights_dir()) / self.path


def _package_dir(name: str) -> str | None:
    """An installed package's folder, found without importing it."""
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def load_manifest(folder: Path = MANIFEST_DIR) -> list[WeightEntry]:
    """Every [[weights]] entry of every *.toml in ``folder``; raises ValueError on a bad file."""
    entries: list[WeightEntry] = []
    for toml_path in sorted(folder.glob("*.toml")):
        with open(toml_path, "rb") as fh:
            data = tomllib.load(fh)
        for i, item in enumerate(data.get("weights", [])):
            missing = [f for f in FIELDS if not isinstance(item.get(f), str)]
            if missing:
                raise ValueError(f"{toml_path.name}: entry {i} lacks string field(s) "
                                 f"{', '.join(missing)}")
            entries.append(WeightEntry(**{f: item[f] for f in FIELDS},
                                       base_env=str(item.get("base_env", "")),
                                       base_package=str(item.get("base_package", ""))))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate weight names in the manifest: {', '.join(dupes)}")
    return entries


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_entry(entry: WeightEntry) -> str:
    """'missing', 'ok', 'present, unverified' or 'CORRUPT'."""
    loc = entry.location()
    if not loc.is_file():
        return "missing"
    if not entry.sha256:
        return "present, unverified"
    return "ok" if sha256_file(loc) == entry.sha256.lower() else "CORRUPT"
