"""Where things are on an Anny body: per-vertex part weights, positions along the limbs,
Anny's UV-based body-part segmentation, and a few landmark heights. Garment builders select
the body surface they cover from these.

All heights in metres (Z up, feet on z = 0); left is +X, the front is -Y.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..bodies import RestBody
from .surface import vertex_normals

# Bone name prefixes of each part (Anny's "anny-blender" rig).
PART_PREFIXES = {
    "arm": ("upperarm", "lowerarm"),
    "hand": ("wrist", "finger", "metacarpal"),
    "leg": ("upperleg", "lowerleg"),
    "shin": ("lowerleg",),
    "foot": ("foot", "toe"),
    "neck": ("neck",),
    "head": ("head", "eye"),
}


@lru_cache(maxsize=1)
def segmentation_labels() -> dict[str, np.ndarray]:
    """{label: (F,) bool face mask} from Anny's body_parts_segmentation (by UV lookup)."""
    from ..bodies import get_body_model
    model = get_body_model("anny")      # garments are built for Anny's mesh and rig
    out = model.part_faces(("head", "hand.L", "hand.R", "foot.L", "foot.R"))
    inner = model.part_faces(("eye_back.L", "eye_front.L", "eye_back.R", "eye_front.R",
                              "eye_cavity.R", "eye_cavity.L", "mouth_cavity", "tongue"))
    out["inner"] = np.logical_or.reduce(list(inner.values()))
    return out


def _vertex_mask(faces: np.ndarray, face_mask: np.ndarray, count: int) -> np.ndarray:
    m = np.zeros(count, dtype=bool)
    m[faces[face_mask].ravel()] = True
    return m


def _polyline_param(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(N,) arc-length fraction 0..1 of each point's projection onto the joint polyline."""
    seg = np.diff(joints, axis=0)
    lens = np.linalg.norm(seg, axis=1)
    starts = np.concatenate([[0.0], np.cumsum(lens)[:-1]])
    best_d = np.full(len(points), np.inf)
    best_s = np.zeros(len(points))
    for a, d, ln, s0 in zip(joints[:-1], seg, lens, starts):
        t = np.clip(((points - a) @ d) / (ln * ln), 0.0, 1.0)
        dist = np.linalg.norm(points - (a + t[:, None] * d), axis=1)
        better = dist < best_d
        best_d[better], best_s[better] = dist[better], s0 + t[better] * ln
    return (best_s / lens.sum()).astype(np.float32)


@dataclass
class BodyRegions:
    vertices: np.ndarray        # (V, 3) rest vertices
    faces: np.ndarray           # (F, 3)
    normals: np.ndarray         # (V, 3) unit
    part: dict[str, np.ndarray]  # part name -> (V,) summed skin weight of its bones
    seg: dict[str, np.ndarray]  # "head", "hand", "foot", "inner" -> (V,) bool
    arm_s: np.ndarray           # (V,) 0 at the shoulder joint .. 1 at the wrist (same side)
    leg_s: np.ndarray           # (V,) 0 at the hip joint .. 1 at the ankle (same side)
    dense_weights: np.ndarray   # (V, B) skin weights over all bones
    z: dict[str, float]         # landmark heights: waist, hip, crotch, knee, ankle, neck, ...
    head_center: np.ndarray     # (3,)
    head_radius: float
    shoulder_x: float           # |x| of the shoulder joint


def body_regions(rest: RestBody) -> BodyRegions:
    v, f = rest.vertices, rest.faces
    n_v, names = len(v), rest.bone_names
    dense = np.zeros((n_v, len(names)), dtype=np.float32)
    np.add.at(dense, (np.repeat(np.arange(n_v), rest.skin_indices.shape[1]),
                      rest.skin_indices.ravel()), rest.skin_weights.ravel())
    part = {}
    for key, prefixes in PART_PREFIXES.items():
        cols = [i for i, nm in enumerate(names) if nm.startswith(prefixes)]
        part[key] = dense[:, cols].sum(1)
    seg_faces = segmentation_labels()
    seg = {"head": _vertex_mask(f, seg_faces["head"], n_v),
           "hand": _vertex_mask(f, seg_faces["hand.L"] | seg_faces["hand.R"], n_v),
           "foot": _vertex_mask(f, seg_faces["foot.L"] | seg_faces["foot.R"], n_v),
           "inner": _vertex_mask(f, seg_faces["inner"], n_v)}
    head = {nm: rest.heads[i] for i, nm in enumerate(names)}
    arm_s = np.zeros(n_v, dtype=np.float32)
    leg_s = np.zeros(n_v, dtype=np.float32)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        mine = v[:, 0] * sign > 0
        arm = np.stack([head[f"upperarm01.{side}"], head[f"lowerarm01.{side}"],
                        head[f"wrist.{side}"]])
        leg = np.stack([head[f"upperleg01.{side}"], head[f"lowerleg01.{side}"],
                        head[f"foot.{side}"]])
        arm_s[mine] = _polyline_param(v[mine], arm)
        leg_s[mine] = _polyline_param(v[mine], leg)
    hip = float(head["upperleg01.L"][2])
    mid = np.abs(v[:, 0]) < 0.012
    crotch = float(v[mid & (v[:, 2] < hip) & (v[:, 2] > 0.5 * hip), 2].min())
    zs = {"hip": hip, "crotch": crotch, "waist": float(head["spine04"][2]),
          "knee": float(head["lowerleg01.L"][2]), "ankle": float(head["foot.L"][2]),
          "neck": float(head["neck01"][2]), "chest": float(head["spine01"][2]),
          "eye": float(head["eye.L"][2]), "skull_base": float(head["head"][2]),
          "top": float(v[:, 2].max())}
    hv = v[seg["head"]]
    center = np.array([0.0, float(hv[:, 1].mean()), 0.5 * (zs["eye"] + zs["top"]) - 0.01],
                      dtype=np.float32)
    radius = float(np.percentile(np.linalg.norm(hv - center, axis=1), 90))
    return BodyRegions(vertices=v, faces=f, normals=vertex_normals(v, f), part=part, seg=seg,
                       arm_s=arm_s, leg_s=leg_s, dense_weights=dense, z=zs, head_center=center,
                       head_radius=radius, shoulder_x=float(head["upperarm01.L"][0]))
