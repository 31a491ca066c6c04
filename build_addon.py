"""Build the Doppel Blender extension zip (Blender 4.2+ extension format).

    python build_addon.py --out DIR [--split-platforms] [--offline]

writes DIR/doppel-<version>.zip holding the add-on (blender_addon/), the shared `protocol` and
`rig` packages vendored inside it, and pyzmq wheels for every platform Blender 4.2-5.0 runs on
(Python 3.11), listed in the manifest's `wheels`. Wheels are fetched once with
`pip download --only-binary=:all: --platform ...` into dist/wheels-cache (git-ignored), so
rebuilding is offline and fast. With --split-platforms, one zip per platform instead
(doppel-<version>-<platform>.zip, each with only its own wheels).
Users never run pip inside Blender.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
ADDON_DIR = REPO / "blender_addon"
VENDORED = {"protocol": REPO / "protocol", "rig": REPO / "rig"}   # shared packages in the zip
MANIFEST = "blender_manifest.toml"
WHEEL_CACHE = REPO / "dist" / "wheels-cache"

PYZMQ = "pyzmq==27.3.0"           # pinned: the wheels in the zip must match this exactly
PYTHON_VERSION = "3.11"           # Blender 4.2 to 5.0 embed CPython 3.11
# Blender platform name -> pip --platform tag (pip also accepts universal2 for macOS ones).
PLATFORMS = {
    "linux-x64": "manylinux_2_28_x86_64",
    "windows-x64": "win_amd64",
    "macos-arm64": "macosx_11_0_arm64",
    "macos-x64": "macosx_10_15_x86_64",
}
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


class BuildError(RuntimeError):
    """A build step failed; the message says what to do."""


def read_manifest() -> dict:
    with open(ADDON_DIR / MANIFEST, "rb") as fh:
        return tomllib.load(fh)


def fetch_wheels(platform: str, cache: Path = WHEEL_CACHE, offline: bool = False) -> list[Path]:
    """The pyzmq wheel(s) for one Blender platform, downloaded into ``cache/<platform>`` once."""
    folder = cache / platform
    found = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if found:
        return found
    if offline:
        raise BuildError(f"no cached {PYZMQ} wheel for {platform} in {folder}; run once "
                         f"without --offline (needs network access to PyPI)")
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
           "--platform", PLATFORMS[platform], "--python-version", PYTHON_VERSION,
           "--implementation", "cp", "--abi", "cp311", PYZMQ, "-d", str(folder), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not found:
        raise BuildError(f"pip could not download {PYZMQ} for {platform}:\n{proc.stderr.strip()}")
    return found


def _toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        inner = ",\n".join("  " + _toml_value(v) for v in value)
        return "[\n" + inner + ",\n]" if value else "[]"
    raise BuildError(f"cannot write {type(value).__name__} into the manifest")


def manifest_text(manifest: dict) -> str:
    """TOML for a manifest dict with plain keys first and one level of tables after."""
    plain = [f"{k} = {_toml_value(v)}" for k, v in manifest.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
              for k, v in manifest.items() if isinstance(v, dict)]
    return "\n".join(plain) + "\n" + "\n".join(tables) + "\n"


def _source_files(root: Path):
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not (SKIP_PARTS & set(rel.parts)) and path.suffix not in SKIP_SUFFIXES:
            yield path, rel


def build_zip(out_path: Path, platforms: list[str], offline: bool = False) -> Path:
    manifest = read_manifest()
    wheels: dict[str, Path] = {}
    for platform in platforms:
        for wheel in fetch_wheels(platform, offline=offline):
            wheels[wheel.name] = wheel          # the macOS universal2 wheel serves both Macs
    manifest["platforms"] = list(platforms)
    manifest["wheels"] = [f"./wheels/{name}" for name in sorted(wheels)]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_text(manifest))
        for path, rel in _source_files(ADDON_DIR):
            if rel.as_posix() != MANIFEST:
                zf.write(path, rel.as_posix())
        for package, folder in VENDORED.items():
            for path, rel in _source_files(folder):
                zf.write(path, f"{package}/{rel.as_posix()}")
        for name, path in sorted(wheels.items()):
            zf.write(path, f"wheels/{name}", compress_type=zipfile.ZIP_STORED)
    tmp.replace(out_path)
    return out_path


def build(out_dir: Path, split_platforms: bool = False, offline: bool = False) -> list[Path]:
    version = read_manifest()["version"]
    if not split_platforms:
        return [build_zip(out_dir / f"doppel-{version}.zip", list(PLATFORMS), offline)]
    return [build_zip(out_dir / f"doppel-{version}-{p}.zip", [p], offline) for p in PLATFORMS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the zip(s)")
    parser.add_argument("--split-platforms", action="store_true",
                        help="one zip per platform instead of one for all")
    parser.add_argument("--offline", action="store_true",
                        help="use only cached wheels (fail instead of downloading)")
    args = parser.parse_args(argv)
    try:
        for path in build(args.out, args.split_platforms, args.offline):
            print(path)
    except BuildError as exc:
        print(f"build_addon: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
