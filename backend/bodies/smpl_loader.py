"""Reading and checking a user's SMPL-family model file, and building the smplx module.

A file is checked before smplx sees it: its digest (when the manifest has one), that it can be
read without running code, that it has the keys smplx needs and the joint count of the model
it is named for. Every problem becomes a JobInputError naming the file and what to do.

What is safe: a .pkl is read by an unpickler that resolves exactly the classes listed in
``_ModelUnpickler.ALLOWED`` (ndarray reconstruction, dtype, scalars, scipy's csc_matrix, the
copy_reg helper that builds them): none of them runs code or touches files, so a planted
.pkl can at worst fail to load. An .npz is read with ``allow_pickle=False`` (object arrays,
such as SMPL-X's joint2num, are skipped: nothing here uses them). smplx never opens the
user's file itself: it gets the checked arrays (SMPL-X through a private temporary .npz of
plain numeric arrays written by us, because smplx.SMPLX takes no arrays).
What is not: a file with a matching layout but wrong numbers still builds a (wrong) body;
only a published sha256 in weights/smpl_family.toml proves a file is the official one.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from protocol.constants import ErrorCode

from ..errors import JobInputError
from .smpl_files import JOINT_COUNTS, LABELS, README_HINT, ModelKind, verify_digest

MAX_BETAS = 300              # SMPL-X's full shape space
REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f",
                 "posedirs")


def _bad_file(model: ModelKind, path: Path, why: str) -> JobInputError:
    return JobInputError(f"{path} is not a usable {LABELS[model]} model file ({why}); replace "
                         f"it with the official file; {README_HINT}", code=ErrorCode.BAD_INPUT)


class _ModelUnpickler(pickle.Unpickler):
    """Reads the .pkl releases (Python 2 pickles of numpy arrays and scipy sparse matrices)
    resolving exactly the classes in ALLOWED and nothing else, so a planted file cannot run
    code as smplx's plain pickle.load would let it (a whole-package allow-list such as
    "numpy.*" is not safe: numpy holds helpers that exec strings)."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        # J_regressor of the chumpy-free releases; scipy moved the class to _csc in 1.8
        ("scipy.sparse.csc", "csc_matrix"), ("scipy.sparse._csc", "csc_matrix"),
        # protocol 0/1 pickles build objects through copy_reg._reconstructor(cls, object, ..)
        ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
        ("_codecs", "encode"),      # bytes written by Python 3 with protocol 2
    })

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        if module.split(".")[0] == "chumpy":
            raise ModuleNotFoundError(f"No module named {module!r}", name="chumpy")
        raise pickle.UnpicklingError(f"it refers to {module:.80}.{name:.80}, which no model "
                                     f"file holds")


def _read_pickle(model: ModelKind, path: Path) -> dict[str, Any]:
    """A .pkl release's dict of arrays (read as smplx does: latin1, but class-restricted)."""
    from struct import error as struct_error
    try:
        with open(path, "rb") as fh:
            data = _ModelUnpickler(fh, encoding="latin1").load()
    except ModuleNotFoundError as exc:
        raise _bad_file(model, path, f"it is an original MPI pickle that needs the '{exc.name}' "
                        "package; convert it with smplx's tools/clean_ch.py or use the "
                        ".npz release") from exc
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError,
            IndexError, TypeError, KeyError, MemoryError, RecursionError, OverflowError,
            struct_error) as exc:
        raise _bad_file(model, path, f"cannot be read: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise _bad_file(model, path, f"it holds a {type(data).__name__}, not a dict of arrays")
    return data


def _npz_headers(model: ModelKind, path: Path) -> dict[str, tuple[tuple, np.dtype]]:
    """(shape, dtype) of each array of an .npz from its headers only (SMPL-X's are ~200 MB
    to load)."""
    headers = {}
    try:
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                if not member.endswith(".npy"):
                    continue
                with z.open(member) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                        else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(fh)
                    headers[member[:-4]] = (shape, dtype)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, SyntaxError,
            NotImplementedError) as exc:
        raise _bad_file(model, path, f"cannot be read: {str(exc)[:200]}") from exc
    return headers


def _npz_shapes(model: ModelKind, path: Path) -> dict[str, tuple]:
    return {k: shape for k, (shape, _) in _npz_headers(model, path).items()}


def _read_npz(model: ModelKind, path: Path) -> dict[str, Any]:
    """The plain arrays of an .npz, read with allow_pickle=False. Object arrays (SMPL-X's
    joint2num, part2num: unused here) are left out rather than unpickled."""
    plain = [k for k, (_, dtype) in _npz_headers(model, path).items() if not dtype.hasobject]
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in plain if k in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, MemoryError) as exc:
        raise _bad_file(model, path, f"cannot be read: {str(exc)[:200]}") from exc


def _plain_arrays(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``data`` as numeric / text numpy arrays only (sparse made dense, objects dropped)."""
    out = {}
    for k, v in data.items():
        if hasattr(v, "toarray"):
            v = v.toarray()
        try:
            a = np.asarray(v)
        except (ValueError, TypeError):
            continue
        if not a.dtype.hasobject:
            out[str(k)] = a
    return out


@contextlib.contextmanager
def _private_npz(data: Mapping[str, Any]):
    """A temporary .npz (in a 0700 folder) of ``data``'s plain arrays, for smplx.SMPLX,
    which reads a file itself: it then reads only what we checked and wrote."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="doppel-smplx-") as folder:
        path = Path(folder) / "model.npz"
        np.savez(path, **_plain_arrays(data))
        yield path


def _check_layout(model: ModelKind, path: Path, shapes: Mapping[str, tuple]) -> None:
    """Keys and (V, J) shapes agree with each other and with ``model``'s joint count."""
    missing = [k for k in REQUIRED_KEYS if k not in shapes]
    if missing:
        raise _bad_file(model, path, f"it lacks {', '.join(missing)}")
    vt, jr, kt = shapes["v_template"], shapes["J_regressor"], shapes["kintree_table"]
    w, sd = shapes["weights"], shapes["shapedirs"]
    n_joints = jr[0] if len(jr) == 2 else -1
    want = JOINT_COUNTS[model]
    if n_joints != want:
        other = next((LABELS[m] for m, c in JOINT_COUNTS.items() if c == n_joints), None)
        hint = f": it looks like a {other} file" if other else ""
        raise _bad_file(model, path, f"it has {n_joints} joints, {LABELS[model]} has {want}{hint}")
    v = vt[0] if len(vt) == 2 else -1
    if len(vt) != 2 or vt[1] != 3 or tuple(w) != (v, want) or tuple(kt) != (2, want) \
            or len(sd) != 3 or tuple(sd[:2]) != (v, 3) or tuple(jr) != (want, v):
        raise _bad_file(model, path, f"its array shapes do not agree (v_template {vt}, weights "
                        f"{w}, kintree_table {kt}, shapedirs {sd}, J_regressor {jr})")


def _hand_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """AMASS's SMPL-H release has no hand PCA; smplx wants it, so add a neutral one."""
    for side in "lr":
        data.setdefault(f"hands_components{side}", np.eye(45))
        data.setdefault(f"hands_mean{side}", np.zeros(45))
    return data


def load_smplx_module(model: ModelKind, path: Path, gender: str) -> torch.nn.Module:
    """Check the file (digest, keys, joint count) and build the smplx module from it.

    SMPL-H and SMPL-X are built with full (non-PCA) hand poses and a flat hand mean, so a zero
    pose is the model's rest pose and clip rotations apply unchanged."""
    import smplx
    from smplx.utils import Struct

    problem = verify_digest(path)
    if problem:
        raise JobInputError(f"{problem}; {README_HINT}", code=ErrorCode.BAD_INPUT)
    ext = path.suffix.lstrip(".")
    if ext == "npz":
        _check_layout(model, path, _npz_shapes(model, path))
        data = _read_npz(model, path)
    else:
        data = _read_pickle(model, path)
        _check_layout(model, path, {k: tuple(getattr(a, "shape", ())) for k, a in data.items()})
    common = dict(gender=gender, num_betas=MAX_BETAS, dtype=torch.float32, batch_size=1)
    hands = dict(use_pca=False, flat_hand_mean=True)
    quiet = contextlib.redirect_stdout(io.StringIO())   # smplx print()s its warnings
    try:
        with quiet:
            if model == "smpl":
                module = smplx.SMPL(str(path), data_struct=Struct(**data), **common)
            elif model == "smplh":
                module = smplx.SMPLH(str(path), data_struct=Struct(**_hand_defaults(data)),
                                     ext=ext, **common, **hands)
            else:   # smplx.SMPLX takes no arrays: it reads our checked copy, never the file
                with _private_npz(data) as copy:
                    module = smplx.SMPLX(str(copy), ext="npz", **common, **hands)
    except (AttributeError, KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        raise _bad_file(model, path, f"smplx cannot build a model from it: {exc}") from exc
    return module.eval()
