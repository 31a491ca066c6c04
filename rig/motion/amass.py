"""Read SMPL-family motion from ``.npz``: AMASS SMPL+H, AMASS SMPL-X "stageii" (whole
``poses`` or split keys) and plain SMPL sequences (N, 72) whose frame rate the user gives.

Hostile files fail with a MotionError, never a crash: nothing is unpickled, and every array's
size is read from its header and checked (frames, frames x joints, elements) before the array
itself is decompressed, so a small file claiming a million frames costs nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .. import rotations as Q
from .errors import MotionError, check_clip_size, check_frame_rate
from .smpl_skeleton import PELVIS_REST, smpl_family_skeleton
from .source import SourceMotion, check_motion, reframe

# Columns of ``poses`` -> skeleton kind (3 axis-angle numbers per joint).
POSE_WIDTHS = {156: "smplh", 165: "smplx", 72: "smpl", 66: "body"}
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps", "frame_rate", "framerate")
# SMPL-X stage-ii split keys, in the order they make up ``poses``.
SPLIT_KEYS = (("root_orient", 3), ("pose_body", 63), ("pose_jaw", 3), ("pose_eye", 6),
              ("pose_hand", 90))

# SMPL's rest pose is Y up, +Z forward; Blender is Z up, -Y forward: +90 degrees about X.
SMPL_TO_BLENDER = Q.from_axis("x", np.pi / 2)

MAX_ELEMENTS = 40_000_000        # numbers in any one array (320 MB as float64)
MAX_MEMBERS = 256                # arrays in one archive


def _check_headers(data, name: str) -> None:
    """Read each member's .npy header (not its data) and refuse arrays that are too large,
    and clips whose frame count would be too large to hold, before anything is loaded."""
    names = data.zip.namelist()
    if len(names) > MAX_MEMBERS:
        raise MotionError(f"'{name}' holds {len(names)} arrays; an AMASS clip has a few dozen.")
    shapes = {}
    for member in names:
        with data.zip.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(fh)
        count = 1
        for d in shape:
            count *= int(d)
        if count > MAX_ELEMENTS:
            raise MotionError(f"'{name}': '{member[:60]}' holds {count} numbers; Doppel reads "
                              f"arrays of up to {MAX_ELEMENTS}.")
        shapes[member[:-4] if member.endswith(".npy") else member] = tuple(shape)
    for key in ("poses", "root_orient", "pose_body", "trans"):
        shape = shapes.get(key)
        if shape:
            joints = (shape[1] // 3 if len(shape) == 2 and key == "poses" else 55)
            check_clip_size(int(shape[0]), max(1, joints), name)


def _array(data, key: str, name: str, width: int | None = None) -> np.ndarray:
    a = np.asarray(data[key])
    if a.dtype.kind not in "fiu":
        raise MotionError(f"'{name}': '{key}' holds {a.dtype} values, expected numbers.")
    a = a.astype(np.float64)
    if width is not None and (a.ndim != 2 or a.shape[1] != width):
        raise MotionError(f"'{name}': '{key}' has shape {a.shape}, expected (frames, {width}).")
    return a


def _frame_rate(data, name: str, source_fps: float | None) -> float:
    for key in FPS_KEYS:
        if key in data.files:
            value = np.asarray(data[key]).reshape(-1)
            if value.size != 1 or value.dtype.kind not in "fiu":
                raise MotionError(f"'{name}': '{key}' must be one number, got {value!r}.")
            fps = float(value[0])
            if not (np.isfinite(fps) and fps > 0):
                raise MotionError(f"'{name}': frame rate '{key}' is {fps}; it must be a positive "
                                  "number. Re-export the clip or give its frame rate.")
            return check_frame_rate(fps, name, f"frame rate '{key}'")
    if source_fps is None:
        raise MotionError(f"'{name}' does not say its frame rate (no 'mocap_framerate' or "
                          "'mocap_frame_rate'); give the clip's frame rate (source fps).")
    if not (np.isfinite(source_fps) and source_fps > 0):
        raise MotionError(f"Source frame rate {source_fps} must be a positive number.")
    return check_frame_rate(float(source_fps), name, "source frame rate")


def _gender(data) -> str:
    if "gender" not in data.files:
        return ""
    g = np.asarray(data["gender"]).reshape(-1)
    if g.size != 1:
        return ""
    g = g[0]
    return (g.decode("utf-8", "replace") if isinstance(g, bytes) else str(g)).strip()


def _poses(data, name: str) -> tuple[np.ndarray, str]:
    if "poses" in data.files:
        poses = _array(data, "poses", name)
        if poses.ndim != 2 or poses.shape[1] not in POSE_WIDTHS:
            widths = ", ".join(f"(N, {w}) {k}" for w, k in POSE_WIDTHS.items())
            raise MotionError(f"'{name}': 'poses' has shape {poses.shape}; expected one of "
                              f"{widths}.")
        return poses, POSE_WIDTHS[poses.shape[1]]
    if "root_orient" in data.files and "pose_body" in data.files:
        parts, present = [], set(data.files)
        is_x = "pose_jaw" in present or "pose_eye" in present
        n = None
        for key, width in SPLIT_KEYS:
            if key in ("pose_jaw", "pose_eye") and not is_x:
                continue
            if key in present:
                part = _array(data, key, name, width)
            else:       # a missing hand/face part stays at rest
                part = np.zeros((0 if n is None else n, width))
            if n is not None and part.shape[0] != n:
                raise MotionError(f"'{name}': '{key}' has {part.shape[0]} frames but "
                                  f"'root_orient' has {n}.")
            n = part.shape[0]
            parts.append(part)
        return np.concatenate(parts, axis=1), ("smplx" if is_x else "smplh")
    raise MotionError(f"'{name}' has no 'poses' (nor 'root_orient' + 'pose_body'); it is not "
                      f"an AMASS/SMPL motion file. Keys found: {', '.join(data.files) or 'none'}.")


def load_smpl_npz(path: str | Path, source_fps: float | None = None) -> SourceMotion:
    """Read an AMASS/SMPL ``.npz``. ``source_fps`` is used only when the file has no frame
    rate (plain SMPL sequences). Raises MotionError with a sentence for the user, and
    nothing else, whatever the file holds."""
    path = Path(path)
    try:
        return _load_smpl_npz(path, source_fps)
    except MotionError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, ZeroDivisionError,
            FloatingPointError, RecursionError, MemoryError, OSError, EOFError,
            zipfile.BadZipFile, SyntaxError, NotImplementedError) as exc:
        raise MotionError(f"'{path.name}' is not a motion .npz Doppel can read "
                          f"({type(exc).__name__}: {str(exc)[:120]}).") from None


def _load_smpl_npz(path: Path, source_fps: float | None) -> SourceMotion:
    name = path.name
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise MotionError(f"Cannot read '{name}': {exc.strerror or exc}.") from None
    if not magic.startswith(b"PK"):
        raise MotionError(f"'{name}' is not a readable .npz archive (an AMASS/SMPL .npz is a "
                          "zip of numpy arrays).")
    try:
        data = np.load(path, allow_pickle=False)   # never unpickle a downloaded file
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise MotionError(f"'{name}' is not a readable .npz archive ({exc}).") from None
    except ValueError:
        raise MotionError(f"'{name}' stores Python objects, which Doppel does not load for "
                          "safety; re-save it with plain numpy arrays.") from None
    if not hasattr(data, "files"):
        raise MotionError(f"'{name}' is a single .npy array, not an .npz motion archive.")
    with data:
        try:
            _check_headers(data, name)
            poses, kind = _poses(data, name)
            fps = _frame_rate(data, name, source_fps)
            n = poses.shape[0]
            warnings = []
            if "trans" in data.files:
                trans = _array(data, "trans", name, 3)
                if trans.shape[0] != n:
                    raise MotionError(f"'{name}': 'trans' has {trans.shape[0]} frames but "
                                      f"'poses' has {n}.")
            else:
                trans = np.zeros((n, 3))
                warnings.append(f"'{name}' has no 'trans'; the body stays in place.")
            gender = _gender(data)
        except ValueError as exc:
            if isinstance(exc, MotionError):
                raise
            raise MotionError(f"'{name}' has an entry that cannot be read ({exc}).") from None
    skeleton = smpl_family_skeleton(kind)
    j = skeleton.joint_count
    if n == 0:
        raise MotionError(f"'{name}' has no frames of motion.")
    if not np.isfinite(poses).all() or not np.isfinite(trans).all():
        bad = np.nonzero(~(np.isfinite(poses).all(1) & np.isfinite(trans).all(1)))[0][0]
        raise MotionError(f"'{name}' contains NaN or infinite values (first at frame {bad}); "
                          "re-export the clip.")
    rotations = Q.from_axis_angle(poses.reshape(n, j, 3))
    motion = SourceMotion(name=path.stem, skeleton=skeleton, fps=fps, rotations=rotations,
                          root_position=trans + PELVIS_REST, kind=kind, gender=gender,
                          warnings=warnings)
    # AMASS worlds are already Z up; only the rest pose is in SMPL's Y-up axes.
    reframe(motion, world=np.array([1.0, 0.0, 0.0, 0.0]), rest=SMPL_TO_BLENDER)
    return check_motion(motion)
