"""RiggedAvatar: the one avatar format every producer emits and the Blender importer consumes.

Conventions: metres; Blender axes (Z up, -Y forward); the armature object sits at the origin.
Bone rest matrices follow Blender's convention: each bone's local +Y runs from head to tail,
its local Z fixes the roll. Pose rotations are what Blender stores in
``pose_bone.rotation_quaternion`` (w, x, y, z), i.e. relative to the bone's rest frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .constants import ErrorCode
from .errors import ProtocolError

# face parts every Anny avatar carries (eyeballs, lashes, brow cards, teeth, tongue)
FACE_ROLES = ("eyes", "eyelashes", "eyebrows", "teeth", "tongue")
LAYER_ROLES = ("body", "top", "bottom", "outerwear", "shoes", "hair", "accessory", "other", *FACE_ROLES)
# what a layer is made of (MeshLayer.material), a hint for the importer's shader; readers treat
# a name they do not know as plain (newer producers may add some), so any short identifier is
# valid. "hair_cards": the texture's alpha cuts the strands out of each card.
LAYER_MATERIALS = ("skin", "cotton", "denim", "knit", "leather", "hair_cards")
_MATERIAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass
class Skeleton:
    names: list[str]             # B bone names, unique
    parents: np.ndarray          # (B,) int32, -1 for roots; parents come before children
    heads: np.ndarray            # (B, 3) float32, rest head positions (armature space)
    tails: np.ndarray            # (B, 3) float32, rest tail positions
    matrices: np.ndarray         # (B, 4, 4) float32, rest bone-to-armature transforms

    @property
    def bone_count(self) -> int:
        return len(self.names)


@dataclass
class SurfaceBinding:
    """Where each vertex of a garment layer sits relative to the body layer's surface, so the
    layer can be refitted onto another body of the same body model (same topology).

    Vertex i lies at ``sum_j barycentric[i, j] * body[triangles[i, j]] + F @ offsets[i]`` where
    F = (t, b, n) is the triangle's orthonormal frame: t along its first edge, n its unit face
    normal, b = n x t. ``hides`` lists the body vertices under the layer (a producer may leave
    the skin under its garments out of the body layer; Doppel's generator drops the faces
    that lie two edge rings or more inside the union of all layers' ``hides``)."""

    triangles: np.ndarray        # (V, 3) int32 body-layer vertex indices
    barycentric: np.ndarray      # (V, 3) float32
    offsets: np.ndarray          # (V, 3) float32 metres, in the triangle frame (t, b, n)
    hides: np.ndarray            # (H,) int32 body-layer vertex indices


@dataclass
class ShapeKeys:
    """Blend shapes of one layer (e.g. the 52 ARKit face keys with Apple's names, ``jawOpen``,
    ``eyeBlinkLeft``, ...). Key k moves vertex i by ``deltas[k, i] * value`` in rest armature
    space, before skinning (Blender's shape keys). ``values`` are the weights the avatar wears
    (e.g. the photo's expression), each in [0, 1]."""

    names: list[str]             # K unique key names
    deltas: np.ndarray           # (K, V, 3) float32 metres, rest armature space
    values: np.ndarray | None = None  # (K,) float32 in [0, 1]; None = all zero

    def index(self, name: str) -> int:
        return self.names.index(name)


@dataclass
class MeshLayer:
    role: str                    # one of LAYER_ROLES
    name: str
    vertices: np.ndarray         # (V, 3) float32, rest pose
    faces: np.ndarray            # (F, K) int32, K = 3 (triangles) or 4 (quads)
    skin_indices: np.ndarray     # (V, k) int32 bone indices (top-k)
    skin_weights: np.ndarray     # (V, k) float32, rows sum to 1
    uvs: np.ndarray | None = None          # (F, K, 2) float32 per face corner
    texture: bytes | None = None           # encoded PNG or JPEG
    base_color: tuple[float, float, float, float] = (0.8, 0.62, 0.52, 1.0)
    binding: SurfaceBinding | None = None  # optional: garment bound to the body surface
    shape_keys: ShapeKeys | None = None    # optional: blend shapes (ARKit face keys)
    material: str | None = None            # optional: a LAYER_MATERIALS name (shader hint)


@dataclass
class Pose:
    rotations: np.ndarray        # (B, 4) float32 quaternions (w, x, y, z), local to rest
    location: np.ndarray         # (3,) float32 translation of the root bone, armature space


@dataclass
class Camera:
    fx: float                    # focal length in pixels of the source image
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    world_from_camera: np.ndarray  # (4, 4) float32; Blender camera: looks down -Z, +Y up


@dataclass
class RiggedAvatar:
    name: str
    skeleton: Skeleton
    layers: list[MeshLayer]
    pose: Pose | None = None
    camera: Camera | None = None
    source_image: bytes | None = None      # encoded PNG/JPEG the avatar came from
    metadata: dict[str, Any] = field(default_factory=dict)  # body_model, params, producer, warnings
    # The other people reconstructed from the same photo (left to right after this one),
    # in the same world and seen by the same camera; their source_image may be left out
    # (it is this avatar's). Companions have no companions.
    companions: list[RiggedAvatar] = field(default_factory=list)

    def layer(self, role: str) -> MeshLayer | None:
        return next((lay for lay in self.layers if lay.role == role), None)


def _bad(text: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FILE, f"invalid avatar: {text}")


def _finite(name: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise _bad(f"{name} contains NaN or infinite values")


def _shape(name: str, a: np.ndarray, shape: tuple) -> None:
    ok = a.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, a.shape))
    if not ok:
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise _bad(f"{name} has shape {a.shape}, expected {want}")


def _check_binding(where: str, bd: SurfaceBinding, v: int, body: MeshLayer | None) -> None:
    _shape(f"{where} binding.triangles", bd.triangles, (v, 3))
    _shape(f"{where} binding.barycentric", bd.barycentric, (v, 3))
    _shape(f"{where} binding.offsets", bd.offsets, (v, 3))
    _shape(f"{where} binding.hides", bd.hides, (None,))
    _finite(f"{where} binding.barycentric", bd.barycentric)
    _finite(f"{where} binding.offsets", bd.offsets)
    if body is None:
        raise _bad(f"{where} is bound to a body surface but the avatar has no body layer")
    n = body.vertices.shape[0]
    for name in ("triangles", "hides"):
        a = getattr(bd, name)
        if a.size and (a.min() < 0 or a.max() >= n):
            raise _bad(f"{where} binding.{name} index body vertices outside 0..{n - 1}")


def _check_shape_keys(where: str, sk: ShapeKeys, v: int) -> None:
    if not isinstance(sk.names, list) or not all(isinstance(n, str) and n for n in sk.names):
        raise _bad(f"{where} shape key names must be a list of non-empty strings")
    if len(set(sk.names)) != len(sk.names):
        raise _bad(f"{where} shape key names are not unique")
    _shape(f"{where} shape_keys.deltas", sk.deltas, (len(sk.names), v, 3))
    _finite(f"{where} shape_keys.deltas", sk.deltas)
    if sk.values is not None:
        _shape(f"{where} shape_keys.values", sk.values, (len(sk.names),))
        _finite(f"{where} shape_keys.values", sk.values)
        if (sk.values < 0).any() or (sk.values > 1).any():
            raise _bad(f"{where} shape key values must lie in [0, 1]")


def validate_avatar(av: RiggedAvatar) -> RiggedAvatar:
    """Check every cross-reference (parents, face and skin indices, array shapes, finite
    values). Raises ProtocolError(BAD_FILE) with the first problem found."""
    sk = av.skeleton
    b = sk.bone_count
    if b == 0:
        raise _bad("the skeleton has no bones")
    if len(set(sk.names)) != b:
        raise _bad("bone names are not unique")
    _shape("skeleton.parents", sk.parents, (b,))
    _shape("skeleton.heads", sk.heads, (b, 3))
    _shape("skeleton.tails", sk.tails, (b, 3))
    _shape("skeleton.matrices", sk.matrices, (b, 4, 4))
    for name in ("heads", "tails", "matrices"):
        _finite(f"skeleton.{name}", getattr(sk, name))
    parents = sk.parents.astype(np.int64)
    if ((parents < -1) | (parents >= np.arange(b))).any():
        raise _bad("every bone's parent must be -1 or an earlier bone")
    if not av.layers:
        raise _bad("the avatar has no mesh layers")
    for i, lay in enumerate(av.layers):
        where = f"layer {i} ({lay.role})"
        if lay.role not in LAYER_ROLES:
            raise _bad(f"{where} has unknown role; expected one of {', '.join(LAYER_ROLES)}")
        _shape(f"{where} vertices", lay.vertices, (None, 3))
        _finite(f"{where} vertices", lay.vertices)
        v = lay.vertices.shape[0]
        if lay.faces.ndim != 2 or lay.faces.shape[1] not in (3, 4):
            raise _bad(f"{where} faces must be (F, 3) or (F, 4)")
        if lay.faces.size and (lay.faces.min() < 0 or lay.faces.max() >= v):
            raise _bad(f"{where} faces index vertices outside 0..{v - 1}")
        _shape(f"{where} skin_indices", lay.skin_indices, (v, None))
        _shape(f"{where} skin_weights", lay.skin_weights, lay.skin_indices.shape)
        _finite(f"{where} skin_weights", lay.skin_weights)
        if lay.skin_indices.size and (lay.skin_indices.min() < 0 or lay.skin_indices.max() >= b):
            raise _bad(f"{where} skin indices name bones outside 0..{b - 1}")
        if (lay.skin_weights < 0).any():
            raise _bad(f"{where} has negative skin weights")
        if lay.uvs is not None:
            _shape(f"{where} uvs", lay.uvs, (*lay.faces.shape, 2))
            _finite(f"{where} uvs", lay.uvs)
        if len(lay.base_color) != 4:
            raise _bad(f"{where} base_color must have 4 components")
        if lay.material is not None and not (isinstance(lay.material, str) and
                                             _MATERIAL_NAME.fullmatch(lay.material)):
            raise _bad(f"{where} material must be a short lower-case name such as "
                       f"{', '.join(LAYER_MATERIALS)}")
        if lay.binding is not None:
            _check_binding(where, lay.binding, v, av.layer("body"))
        if lay.shape_keys is not None:
            _check_shape_keys(where, lay.shape_keys, v)
    if av.pose is not None:
        _shape("pose.rotations", av.pose.rotations, (b, 4))
        _shape("pose.location", av.pose.location, (3,))
        _finite("pose.rotations", av.pose.rotations)
        _finite("pose.location", av.pose.location)
    if av.camera is not None:
        cam = av.camera
        _shape("camera.world_from_camera", cam.world_from_camera, (4, 4))
        _finite("camera.world_from_camera", cam.world_from_camera)
        if not (cam.width > 0 and cam.height > 0 and cam.fx > 0 and cam.fy > 0):
            raise _bad("camera needs positive width, height and focal lengths")
    if not isinstance(av.companions, list):
        raise _bad("companions must be a list of avatars")
    for i, other in enumerate(av.companions):
        if not isinstance(other, RiggedAvatar) or other.companions:
            raise _bad(f"companion {i} must be an avatar without companions of its own")
        try:
            validate_avatar(other)
        except ProtocolError as exc:
            raise _bad(f"companion {i} ({other.name}): "
                       f"{exc.message.removeprefix('invalid avatar: ')}") from None
    return av
