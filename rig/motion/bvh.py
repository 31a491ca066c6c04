"""Read BVH motion capture: any joint tree, Euler channels in any order, centimetres, inches
or metres, Y-up or Z-up files. The result is a SourceMotion in Blender axes and metres.
Position channels count on the root only (retargeting transfers rotations).

Hostile files fail with a MotionError, never a crash: the hierarchy is parsed without
recursion, and the file size, nesting depth, joint count, channels per joint, frame count and
frames x joints are bounded before anything is allocated (limits below and in errors.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rotations as Q
from .bvh_roles import find_roles
from .errors import MotionError, check_clip_size, check_frame_rate
from .source import SourceMotion, SourceSkeleton, check_motion, reframe

_AXES = {"xposition": ("pos", 0), "yposition": ("pos", 1), "zposition": ("pos", 2),
         "xrotation": ("rot", "X"), "yrotation": ("rot", "Y"), "zrotation": ("rot", "Z")}

# Candidate length units (metres per file unit). "cmu" is the CMU mocap unit (inches / 0.45)
# of the widely shared CMU BVH conversions. The one that makes the figure most nearly 1.7 m
# tall wins.
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
HUMAN_HEIGHT_M = 1.7

MAX_FILE_BYTES = 256 << 20     # a 20-minute 120 fps capture of 60 joints is ~150 MB
MAX_JOINTS = 1000              # joints and end sites together
MAX_DEPTH = 256                # nesting of JOINT blocks
MAX_CHANNELS = 6               # per joint: 3 positions + 3 rotations


@dataclass
class _Joint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    column: int = 0            # first column of this joint's channels in a frame line


class _Tokens:
    """Whitespace tokens of the HIERARCHY part, with line numbers for error messages."""

    def __init__(self, lines: list[str], name: str, first_line: int):
        self.items = [(tok, no) for no, line in enumerate(lines, first_line)
                      for tok in line.split()]
        self.pos = 0
        self.name = name

    def error(self, text: str) -> MotionError:
        line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1
        return MotionError(f"'{self.name}' is not a valid BVH file: {text} (line {line}).")

    def next(self, expect: str | None = None) -> str:
        if self.pos >= len(self.items):
            raise self.error(f"the file ends early{f', expected {expect!r}' if expect else ''}")
        tok = self.items[self.pos][0]
        if expect is not None and tok.upper() != expect.upper():
            raise self.error(f"expected {expect!r} but found {tok!r}")
        self.pos += 1
        return tok

    def peek(self) -> str:
        return self.items[self.pos][0] if self.pos < len(self.items) else ""

    def number(self) -> float:
        tok = self.next()
        try:
            return float(tok)
        except ValueError:
            self.pos -= 1
            raise self.error(f"expected a number but found {tok!r}") from None


def _offset(tok: _Tokens) -> np.ndarray:
    tok.next("OFFSET")
    offset = np.array([tok.number() for _ in range(3)])
    if not np.isfinite(offset).all():
        tok.pos -= 1
        raise tok.error("an OFFSET is not a finite number")
    return offset


def _add(tok: _Tokens, joints: list[_Joint], joint: _Joint) -> int:
    if len(joints) >= MAX_JOINTS:
        raise tok.error(f"more than {MAX_JOINTS} joints; Doppel reads skeletons up to that size")
    joints.append(joint)
    return len(joints) - 1


def _open_joint(tok: _Tokens, name: str, parent: int, joints: list[_Joint],
                column: int) -> tuple[int, int]:
    """Read ``{ OFFSET .. [CHANNELS ..]`` of one joint -> (its index, the next column)."""
    tok.next("{")
    index = _add(tok, joints, _Joint(name=name, parent=parent, offset=_offset(tok)))
    if tok.peek().upper() == "CHANNELS":
        tok.next()
        word = tok.next()
        try:
            count = int(word)
        except ValueError:
            count = -1
        if not 0 <= count <= MAX_CHANNELS:
            tok.pos -= 1
            raise tok.error(f"CHANNELS must be followed by a channel count from 0 to "
                            f"{MAX_CHANNELS}, found {word[:40]!r}")
        joint = joints[index]
        for _ in range(count):
            ch = tok.next()
            if ch.lower() not in _AXES:
                tok.pos -= 1
                raise tok.error(f"unknown channel {ch[:40]!r}")
            joint.channels.append(ch.lower())
        joint.column = column
        column += count
    return index, column


def _parse_hierarchy(tok: _Tokens, root_name: str, joints: list[_Joint]) -> int:
    """The joint tree from ROOT's name on, with an explicit stack (no recursion, so no depth
    of nesting can overflow Python's stack) -> the number of channel columns."""
    index, column = _open_joint(tok, root_name, -1, joints, 0)
    stack = [index]                        # open joints, innermost last
    while stack:
        word = tok.next()
        if word == "}":
            stack.pop()
        elif word.upper() == "JOINT":
            if len(stack) >= MAX_DEPTH:
                raise tok.error(f"joints are nested more than {MAX_DEPTH} levels deep")
            index, column = _open_joint(tok, tok.next(), stack[-1], joints, column)
            stack.append(index)
        elif word.upper() == "END":
            tok.next("Site")
            tok.next("{")
            end = _offset(tok)
            tok.next("}")
            parent = stack[-1]
            _add(tok, joints, _Joint(name=f"{joints[parent].name}_end", parent=parent,
                                     offset=end))
        else:
            tok.pos -= 1
            raise tok.error(f"expected JOINT, End Site or '}}' but found {word[:40]!r}")
    return column


def _motion_header(lines: list[str], start: int, name: str) -> tuple[int, float, int]:
    """Parse 'Frames:' and 'Frame Time:' after MOTION -> (frames, seconds per frame, index of
    the first data line)."""
    header = [(i, ln.strip()) for i, ln in enumerate(lines[start:], start) if ln.strip()][:2]
    if len(header) < 2 or not header[0][1].lower().startswith("frames:") \
            or not header[1][1].lower().startswith("frame time:"):
        raise MotionError(f"'{name}' is not a valid BVH file: MOTION must be followed by "
                          f"'Frames:' and 'Frame Time:' lines (line {start + 1}).")
    try:
        frames = int(header[0][1].split(":", 1)[1][:40])
        dt = float(header[1][1].split(":", 1)[1][:40])
    except ValueError:
        raise MotionError(f"'{name}': cannot read the frame count or frame time "
                          f"(lines {header[0][0] + 1}-{header[1][0] + 1}).") from None
    if not (np.isfinite(dt) and dt > 0):
        raise MotionError(f"'{name}': 'Frame Time' is {dt}; it must be a positive number of "
                          "seconds, so the frame rate is unknown.")
    check_frame_rate(1.0 / dt, name, f"frame rate ('Frame Time: {dt:g}')")
    return frames, dt, header[1][0] + 1


def _detect_units(rest: np.ndarray, up: int) -> tuple[str, float]:
    height = float(rest[:, up].max() - rest[:, up].min())
    if height <= 0:
        return "m", 1.0
    unit = min(UNITS, key=lambda u: abs(np.log(height * UNITS[u] / HUMAN_HEIGHT_M)))
    return unit, UNITS[unit]


def load_bvh(path: str | Path) -> SourceMotion:
    """Parse a BVH file. Raises MotionError naming the line of the first problem; any file,
    however malformed, gives a MotionError and nothing else."""
    path = Path(path)
    try:
        return _load_bvh(path)
    except MotionError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, ZeroDivisionError,
            FloatingPointError, RecursionError, MemoryError) as exc:
        raise MotionError(f"'{path.name}' is not a BVH file Doppel can read "
                          f"({type(exc).__name__}: {str(exc)[:120]}).") from None


def _load_bvh(path: Path) -> SourceMotion:
    name = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise MotionError(f"'{name}' is larger than {MAX_FILE_BYTES >> 20} MB; Doppel reads "
                              f"BVH files up to that size. Split the clip.")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionError(f"Cannot read '{name}': {exc.strerror or exc}.") from None
    lines = text.splitlines()
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    if not lines or lines[0].strip().upper() != "HIERARCHY":
        raise MotionError(f"'{name}' is not a BVH file: it must start with 'HIERARCHY'.")
    if motion_at is None:
        raise MotionError(f"'{name}' is not a valid BVH file: it has no MOTION section.")
    tok = _Tokens(lines[1:motion_at], name, first_line=2)
    joints: list[_Joint] = []
    tok.next("ROOT")
    columns = _parse_hierarchy(tok, tok.next(), joints)
    if tok.pos != len(tok.items):
        raise tok.error(f"unexpected {tok.peek()[:40]!r} after the root joint's closing '}}'")
    frames, dt, data_at = _motion_header(lines, motion_at + 1, name)
    if frames <= 0:
        raise MotionError(f"'{name}' has no frames of motion.")
    check_clip_size(frames, len(joints), name)
    rows = [ln for ln in lines[data_at:] if ln.strip()]
    if not rows:
        raise MotionError(f"'{name}' has no frames of motion.")
    warnings = []
    if len(rows) < frames:
        raise MotionError(f"'{name}' declares {frames} frames but holds {len(rows)}; the file "
                          "is cut short.")
    if len(rows) > frames:
        warnings.append(f"'{name}' holds {len(rows)} frames but declares {frames}; "
                        f"using the first {frames}.")
        rows = rows[:frames]
    try:
        values = np.array(" ".join(rows).split(), dtype=np.float64)
    except ValueError:
        raise MotionError(f"'{name}': the MOTION section contains something that is not a "
                          "number.") from None
    if values.size != frames * columns:
        bad = next((i for i, r in enumerate(rows) if len(r.split()) != columns), 0)
        raise MotionError(f"'{name}': frame line {data_at + 1 + bad} has "
                          f"{len(rows[bad].split())} values but the hierarchy declares "
                          f"{columns} channels.")
    values = values.reshape(frames, columns)
    if not np.isfinite(values).all():
        bad = int(np.nonzero(~np.isfinite(values).all(axis=1))[0][0])
        raise MotionError(f"'{name}' contains NaN or infinite values (first at frame {bad}).")
    fps = 1.0 / dt
    if abs(fps - round(fps)) < 1e-4 * fps:      # "Frame Time: .0083333" means 120 fps
        fps = float(round(fps))
    check_frame_rate(fps, name)
    return _build(path.stem, joints, values, fps, warnings)


def _build(name: str, joints: list[_Joint], values: np.ndarray, fps: float,
           warnings: list[str]) -> SourceMotion:
    n = values.shape[0]
    parents = np.array([j.parent for j in joints], dtype=np.int64)
    rest = np.zeros((len(joints), 3))
    for i, j in enumerate(joints):
        rest[i] = j.offset if j.parent < 0 else rest[j.parent] + j.offset
    rotations = np.zeros((n, len(joints), 4))
    rotations[..., 0] = 1.0
    root = joints[0]
    root_position = np.broadcast_to(root.offset, (n, 3)).copy()
    for i, j in enumerate(joints):
        rot_cols = [(j.column + k, _AXES[c][1]) for k, c in enumerate(j.channels)
                    if _AXES[c][0] == "rot"]
        if rot_cols:
            cols, order = zip(*rot_cols)
            rotations[:, i] = Q.from_euler(np.radians(values[:, list(cols)]), "".join(order))
        if i == 0:
            for k, c in enumerate(j.channels):
                if _AXES[c][0] == "pos":
                    root_position[:, _AXES[c][1]] = values[:, j.column + k]
    names = [j.name for j in joints]
    up = _up_axis(names, rest)
    unit, scale = _detect_units(rest, up)
    skeleton = SourceSkeleton(names=names, parents=parents, rest=rest * scale)
    motion = SourceMotion(name=name, skeleton=skeleton, fps=fps, rotations=rotations,
                          root_position=root_position * scale, kind="bvh", unit=unit,
                          warnings=warnings)
    to_z_up = Q.from_axis("x", np.pi / 2) if up == 1 else np.array([1.0, 0.0, 0.0, 0.0])
    reframe(motion, world=to_z_up, rest=to_z_up)
    skeleton.roles = find_roles(names, parents)
    _face_minus_y(motion)
    return check_motion(motion)


def _up_axis(names: list[str], rest: np.ndarray) -> int:
    """1 for Y-up files (the BVH norm), 2 for Z-up: the axis along which the head sits
    above the root in the rest pose."""
    heads = [i for i, n in enumerate(names) if n.lower().endswith("head")]
    top = heads[0] if heads else int(np.argmax(np.linalg.norm(rest - rest[0], axis=1)))
    d = rest[top] - rest[0]
    return 2 if abs(d[2]) > abs(d[1]) and d[2] > 0 else 1


def _face_minus_y(m: SourceMotion) -> None:
    """Turn the rest pose about Z so its left hip lies along +X (facing -Y, as Doppel
    avatars do); world poses are unchanged."""
    roles, rest = m.skeleton.roles, m.skeleton.rest
    if "left_hip" not in roles or "right_hip" not in roles:
        return
    across = rest[roles["left_hip"]] - rest[roles["right_hip"]]
    yaw = -np.arctan2(across[1], across[0])
    if abs(yaw) > 1e-6:
        reframe(m, world=np.array([1.0, 0.0, 0.0, 0.0]), rest=Q.from_axis("z", yaw))
