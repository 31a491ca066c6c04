"""Label every pixel of a photo as one of SEGMENT_LABELS (background, skin, face, hair, upper,
lower, outerwear, shoes).

Built from what the fit already knows, no extra network: the fitted body rasterised into the
photo says which body part lies under each pixel (and how far along its limb); mask pixels the
naked body does not cover (a skirt's flare, a coat's hem, hair) take the part of the nearest
body pixel. MediaPipe's face points give the face's skin colour. Each label then gets a colour
model (a Gaussian in Lab) from seed pixels its part makes likely, and every person pixel takes
the label that explains its colour best among those its body part allows; two rounds of
re-estimation (hard EM) and a majority filter settle it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
from scipy import ndimage

from ..garments.outfit import SEGMENT_LABELS
from ..raster import rasterize
from .geometry import project

L = {name: i for i, name in enumerate(SEGMENT_LABELS)}

# Coarse body parts under a pixel (-1: outside the person).
PARTS = ("head", "neck", "chest", "pelvis", "arm", "hand", "leg", "foot")
P = {name: i for i, name in enumerate(PARTS)}

# log prior of each label on each part (labels a part cannot show are left out).
_PRIOR = {
    "head": {"face": 0.0, "hair": 0.0, "skin": -2.0, "upper": -3.0, "outerwear": -3.0},
    "neck": {"skin": 0.0, "hair": -0.5, "upper": -0.5, "outerwear": -1.0, "face": -2.0},
    "chest": {"upper": 0.0, "outerwear": -0.5, "skin": -0.7, "hair": -1.0, "lower": -2.5},
    "pelvis": {"lower": 0.0, "upper": -0.5, "outerwear": -0.7, "skin": -1.5},
    "arm": {"skin": 0.0, "upper": 0.0, "outerwear": -0.5, "hair": -2.0},
    "hand": {"skin": 0.0, "upper": -1.5, "outerwear": -1.5},
    "leg": {"lower": 0.0, "skin": 0.0, "outerwear": -0.7, "upper": -2.0, "shoes": -2.5},
    "foot": {"shoes": 0.0, "skin": -0.5, "lower": -1.0},
}
PRIOR = np.full((len(PARTS), len(SEGMENT_LABELS)), -np.inf, np.float32)
for _part, _labels in _PRIOR.items():
    for _label, _lp in _labels.items():
        PRIOR[P[_part], L[_label]] = _lp

# Debug overlay colours (sRGB), one per label in SEGMENT_LABELS order.
PALETTE = np.array([(0, 0, 0), (240, 190, 150), (255, 120, 60), (120, 60, 20), (40, 110, 240),
                    (40, 200, 80), (200, 40, 200), (250, 230, 40)], np.uint8)


@dataclass
class Segmentation:
    labels: np.ndarray      # (H, W) uint8 index into SEGMENT_LABELS; 0 exactly off the person
    part: np.ndarray        # (H, W) int8 index into PARTS, -1 off the person
    on_body: np.ndarray     # (H, W) bool: the naked fitted body covers the pixel
    leg_s: np.ndarray       # (H, W) float32 0 hip .. 1 ankle where part is leg/foot, else nan
    arm_s: np.ndarray       # (H, W) float32 0 shoulder .. 1 wrist where part is arm/hand
    side: np.ndarray        # (H, W) int8 +1 the person's left, -1 right, 0 centre
    rgb: np.ndarray         # (H, W, 3) uint8 the working photo
    lab: np.ndarray         # (H, W, 3) float32 CIE Lab (L 0..100)
    target: np.ndarray      # (H, W) bool person mask
    keypoints: np.ndarray   # (33, 2) MediaPipe pixels
    visibility: np.ndarray  # (33,)
    metres_per_px: float    # at the body's depth
    rows: dict[str, float]  # image rows of body landmarks (hip, crotch, knee, ankle, skull_base)
    skin_lab: np.ndarray    # (3,) the face's (or hands') skin colour, Lab

    def mask(self, label: str) -> np.ndarray:
        return self.labels == L[label]


@dataclass
class VertexParts:
    part: np.ndarray        # (V,) int8 index into PARTS
    leg_s: np.ndarray       # (V,) float32
    arm_s: np.ndarray       # (V,) float32
    side: np.ndarray        # (V,) int8
    landmark_vertices: dict[str, np.ndarray]  # name -> vertex ids around that height


@lru_cache(maxsize=2)
def vertex_parts(body_name: str) -> VertexParts:
    """Per-vertex coarse parts of an Anny body (topology only: any Anny shape shares them)."""
    from ..bodies import get_body_model
    from ..garments.body_regions import body_regions
    rest = get_body_model(body_name).rest_body({})
    reg = body_regions(rest)
    v, z = reg.vertices, reg.z
    part = np.where(v[:, 2] > z["waist"], P["chest"], P["pelvis"]).astype(np.int8)
    leg = (reg.part["leg"] > 0.5) & (v[:, 2] < z["crotch"] + 0.04)
    part[leg] = P["leg"]
    part[(reg.part["arm"] > 0.5) & (np.abs(v[:, 0]) > reg.shoulder_x - 0.02)] = P["arm"]
    part[reg.part["neck"] > 0.5] = P["neck"]
    part[reg.seg["hand"]] = P["hand"]
    part[reg.seg["foot"]] = P["foot"]
    part[reg.seg["head"] | (reg.part["head"] > 0.5)] = P["head"]
    side = np.sign(np.round(v[:, 0] / 0.02)).astype(np.int8)

    def ring(height: float, band: float = 0.012) -> np.ndarray:
        return np.nonzero(np.abs(v[:, 2] - height) < band)[0]

    marks = {"hip": ring(z["hip"]), "crotch": ring(z["crotch"], 0.02),
             "knee": ring(z["knee"]), "ankle": ring(z["ankle"], 0.02),
             "skull_base": np.nonzero((np.abs(v[:, 2] - z["skull_base"]) < 0.015)
                                      & (part == P["head"]))[0]}
    return VertexParts(part, reg.leg_s, reg.arm_s, side, marks)


def posed_body(rig, fit) -> np.ndarray:
    """(V, 3) the fitted naked body in camera space."""
    with torch.no_grad():
        deltas = rig.deltas(fit.rest, fit.global_rot, fit.translation, fit.bone_rotvecs)
        posed, _ = rig.pose(fit.rest, deltas)
    return posed.numpy()


def segment_photo(rgb: np.ndarray, target: np.ndarray, obs, rig, fit) -> Segmentation:
    """Label image of the photo from the fitted body (``BodyFitter.fit``'s result)."""
    verts = posed_body(rig, fit)
    cam = fit.camera
    if rig.body.name == "anny":
        parts = vertex_parts(rig.body.name)
    else:
        with torch.no_grad():
            kp = rig.keypoints(torch.from_numpy(verts)).numpy()
        parts = keypoint_parts(verts, dict(zip(rig.kp_labels, kp)))
    return label_pixels(rgb, target, obs.keypoints, obs.visibility, verts, rig.mesh_faces,
                        (cam.f, cam.cx, cam.cy), parts)


def label_pixels(rgb, target, keypoints, visibility, verts, faces, intrinsics,
                 parts: VertexParts) -> Segmentation:
    h, w = target.shape
    f, cx, cy = intrinsics
    pix = project(torch.from_numpy(verts), f, cx, cy).numpy()
    target = target.astype(bool)
    ras = rasterize(pix, faces, w, h, depth=verts[:, 2])
    on_body = ras.mask & target
    # Every person pixel takes the body pixel nearest to it (the body's own pixels: themselves).
    _, (iy, ix) = ndimage.distance_transform_edt(~ras.mask, return_indices=True)
    face_id = ras.face[iy, ix]
    corner = faces[face_id]                                       # (H, W, 3)
    bary = ras.bary[iy, ix]
    part = parts.part[corner[..., 0]].copy()
    # A face's part is its corners' majority; corner 0 wins ties (enough at pixel scale).
    p1, p2 = parts.part[corner[..., 1]], parts.part[corner[..., 2]]
    part = np.where((p1 == p2) & (p1 != part), p1, part)
    leg_s = (parts.leg_s[corner] * bary).sum(-1).astype(np.float32)
    arm_s = (parts.arm_s[corner] * bary).sum(-1).astype(np.float32)
    side = parts.side[corner[..., 0]]
    part = np.where(target, part, -1).astype(np.int8)
    leg_s[~np.isin(part, (P["leg"], P["foot"]))] = np.nan
    arm_s[~np.isin(part, (P["arm"], P["hand"]))] = np.nan
    side = np.where(target, side, 0).astype(np.int8)

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.0)
    skin = _skin_colour(smooth, part, keypoints, visibility)
    labels = _classify(smooth, part, target, skin, keypoints, visibility, h, w)
    depth = float(np.median(verts[:, 2]))
    rows = {k: float(pix[idx, 1].mean()) for k, idx in parts.landmark_vertices.items()
            if len(idx)}
    return Segmentation(labels, part, on_body, leg_s, arm_s, side, rgb, lab, target,
                        np.asarray(keypoints), np.asarray(visibility), depth / f, rows, skin)


def _face_box(keypoints, visibility) -> tuple[np.ndarray, float] | None:
    """(centre, size) of a visible face from MediaPipe's eye, ear and mouth points; size is
    about the eye-to-eye distance of a frontal face, kept from collapsing when it turns."""
    if visibility[[0, 2, 5, 9, 10]].min() < 0.5:
        return None
    eyes, mouth = keypoints[[2, 5]].mean(0), keypoints[[9, 10]].mean(0)
    d = max(float(np.linalg.norm(keypoints[2] - keypoints[5])),
            0.5 * float(np.linalg.norm(keypoints[7] - keypoints[8])),
            1.1 * float(np.linalg.norm(eyes - mouth)))
    if d < 2.0:
        return None
    return 0.5 * (eyes + mouth), d


def _skin_colour(lab, part, keypoints, visibility) -> np.ndarray:
    """Lab skin colour: the cheeks and nose (below the eyes, above the mouth), else hands."""
    h, w = part.shape
    yy, xx = np.mgrid[0:h, 0:w]
    box = _face_box(keypoints, visibility)
    if box is not None:
        (fx, fy), d = box
        disc = ((xx - fx) ** 2 + (yy - fy) ** 2 < (0.55 * d) ** 2) & (part == P["head"])
        if disc.sum() >= 6:
            return np.median(lab[disc], axis=0)
    hands = part == P["hand"]
    if hands.sum() >= 20:
        return np.median(lab[hands], axis=0)
    return np.array([68.0, 14.0, 18.0], np.float32)     # a mid skin tone


def _gauss(samples: np.ndarray, floor: float = 6.0):
    """(mean, inverse covariance, log det) of Lab samples, covariance floored per axis."""
    mean = samples.mean(0)
    cov = np.cov(samples.T) if len(samples) > 3 else np.zeros((3, 3))
    cov = cov + np.diag([floor * 4.0, floor, floor])   # lightness varies most with shading
    return mean, np.linalg.inv(cov), float(np.linalg.slogdet(cov)[1])


def _loglik(x: np.ndarray, model) -> np.ndarray:
    mean, icov, logdet = model
    d = x - mean
    return -0.5 * (np.einsum("ni,ij,nj->n", d, icov, d) + logdet)


def _classify(lab, part, target, skin, keypoints, visibility, h, w) -> np.ndarray:
    idx = np.nonzero(target)
    x = lab[idx]
    pp = part[idx]
    n = len(x)
    skin_model = _gauss(np.repeat(skin[None], 4, 0), floor=10.0)
    skin_ll = _loglik(x, skin_model)
    skin_like = skin_ll > np.percentile(skin_ll[pp == P["head"]], 40) if (pp == P["head"]).any() \
        else skin_ll > skin_ll.max() - 8.0
    not_skin = skin_ll < skin_ll.max() - 12.0     # 2 sigma and more from the skin colour
    # Face area: an ellipse around the eyes and mouth; hair is the head outside it.
    yy, xx = idx
    face_area = np.zeros(n, bool)
    box = _face_box(keypoints, visibility)
    if box is not None:
        (fx, fy), d = box
        face_area = ((xx - fx) / (1.25 * d)) ** 2 + ((yy - fy) / (1.6 * d)) ** 2 < 1.0
    seeds = {
        "skin": skin_like & ~np.isin(pp, (P["chest"], P["pelvis"])),
        "face": skin_like & face_area,
        "hair": (pp == P["head"]) & ~face_area & not_skin,
        "upper": _cloth_seeds(x, pp == P["chest"], skin, not_skin),
        "lower": _cloth_seeds(x, pp == P["leg"], skin, not_skin),
        "shoes": _cloth_seeds(x, pp == P["foot"], skin, not_skin),
    }
    labels = np.zeros(n, np.uint8)
    for _ in range(2):
        models = {}
        for name, sel in seeds.items():
            if sel.sum() >= 20:
                sub = x[sel][:: max(1, sel.sum() // 3000)]
                models[name] = _gauss(sub)
        models.setdefault("skin", skin_model)
        models["face"] = models["skin"]
        if "hair" not in models:                       # bald or hidden: hair only when dark
            models["hair"] = _gauss(np.array([[20.0, 5, 8]] * 4), floor=15.0)
        if "outerwear" not in models:
            models["outerwear"] = models.get("upper", skin_model)
        score = np.full((n, len(SEGMENT_LABELS)), -np.inf, np.float32)
        for name, model in models.items():
            score[:, L[name]] = _loglik(x, model)
        # Outerwear is a second upper-body colour; without its own seeds it loses to upper.
        score[:, L["outerwear"]] -= 1.0
        score += PRIOR[pp]
        score[:, L["face"]] = np.where(face_area, score[:, L["face"]], -np.inf)
        score[:, L["background"]] = -np.inf
        labels = score.argmax(1).astype(np.uint8)
        seeds = {name: labels == L[name] for name in ("skin", "hair", "upper", "lower", "shoes")}
        seeds["skin"] |= labels == L["face"]
    # Hair away from the head is hair only where it hangs from the head's hair (a dark stripe
    # or shadow on the chest is not): others take their best other label.
    hair = np.zeros((h, w), np.uint8)
    hair[idx] = labels == L["hair"]
    _, comp = cv2.connectedComponents(hair, connectivity=8)
    on_head = np.unique(comp[idx][(labels == L["hair"]) & (pp == P["head"])])
    loose = (labels == L["hair"]) & ~np.isin(comp[idx], on_head[on_head > 0])
    score[:, L["hair"]] = -np.inf
    labels[loose] = score[loose].argmax(1)
    out = np.zeros((h, w), np.uint8)
    out[idx] = labels
    return _majority(out, target)


def _cloth_seeds(x, region, skin, not_skin, apart: float = 6.0) -> np.ndarray:
    """Seed pixels of the cloth a body region mostly shows: the region's median colour, when
    it is apart from the skin's (a pale shirt on pale skin still is), and the pixels nearer
    to it than to the skin; else only the region's clearly-not-skin pixels."""
    if region.sum() < 20:
        return region & not_skin
    weight = np.array([0.5, 1.0, 1.0], np.float32)          # lightness: shading, less trust
    cloth = np.median(x[region], axis=0)
    if np.linalg.norm((cloth - skin) * weight) < apart:
        return region & not_skin
    nearer = np.linalg.norm((x - cloth) * weight, axis=1) < np.linalg.norm((x - skin) * weight,
                                                                           axis=1)
    return region & (nearer | not_skin)


def _majority(labels: np.ndarray, target: np.ndarray, size: int = 5) -> np.ndarray:
    """Each person pixel takes the most frequent person label in its size x size window."""
    votes = np.stack([cv2.boxFilter((labels == k).astype(np.float32), -1, (size, size),
                                    normalize=False) for k in range(1, len(SEGMENT_LABELS))])
    best = votes.argmax(0).astype(np.uint8) + 1
    return np.where(target, best, 0).astype(np.uint8)


def keypoint_parts(verts: np.ndarray, kp: dict[str, np.ndarray]) -> VertexParts:
    """Coarse parts of any body model's posed vertices from its own 3D joints: each vertex
    takes its nearest bone (torso, limbs, hand/foot beyond wrist/ankle, head above the neck)."""
    from ..garments.body_regions import _polyline_param
    j = {k: np.asarray(v, np.float64) for k, v in kp.items()}
    hip = 0.5 * (j["left_hip"] + j["right_hip"])
    neck = 0.5 * (j["left_shoulder"] + j["right_shoulder"])
    up = (neck - hip) / np.linalg.norm(neck - hip)
    head = neck + 0.22 * np.linalg.norm(neck - hip) * up
    bones = [("chest", neck, 0.5 * (neck + hip)), ("pelvis", 0.5 * (neck + hip), hip),
             ("head", neck + 0.08 * up * np.linalg.norm(neck - hip), head)]
    for side in ("left", "right"):
        sh, el, wr = j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_wrist"]
        hp, kn, an = j[f"{side}_hip"], j[f"{side}_knee"], j[f"{side}_ankle"]
        bones += [("arm", sh, el), ("arm", el, wr), ("hand", wr, wr + 0.35 * (wr - el)),
                  ("leg", hp, kn), ("leg", kn, an), ("foot", an, an - 0.12 * up)]
    dist = np.stack([_segment_distance(verts, a, b) for _, a, b in bones], 1)
    part = np.array([P[name] for name, _, _ in bones], np.int8)[dist.argmin(1)]
    # The body's left is the camera's -x only when it faces the camera: use the hips' side.
    lr = j["left_hip"] - j["right_hip"]
    offset = (verts - hip) @ lr / np.linalg.norm(lr)
    side = np.sign(np.round(offset / 0.02)).astype(np.int8)
    arm_s = np.zeros(len(verts), np.float32)
    leg_s = np.zeros(len(verts), np.float32)
    for sign, name in ((1, "left"), (-1, "right")):
        mine = side == sign
        arm_s[mine] = _polyline_param(verts[mine], np.stack(
            [j[f"{name}_shoulder"], j[f"{name}_elbow"], j[f"{name}_wrist"]]))
        leg_s[mine] = _polyline_param(verts[mine], np.stack(
            [j[f"{name}_hip"], j[f"{name}_knee"], j[f"{name}_ankle"]]))

    def near(point: np.ndarray, k: int = 30) -> np.ndarray:
        return np.argsort(np.linalg.norm(verts - point, axis=1))[:k]

    knee = 0.5 * (j["left_knee"] + j["right_knee"])
    marks = {"hip": near(hip), "crotch": near(hip + 0.2 * (knee - hip)), "knee": near(knee),
             "ankle": near(0.5 * (j["left_ankle"] + j["right_ankle"])),
             "skull_base": near(neck + 0.12 * np.linalg.norm(neck - hip) * up)}
    return VertexParts(part, leg_s, arm_s, side, marks)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    t = np.clip(((points - a) @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * d), axis=1)


def overlay(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(H, W + legend, 3) uint8: label colours blended over the photo, legend on the right."""
    rgb = rgb.astype(np.float32)
    col = PALETTE[labels].astype(np.float32)
    person = (labels > 0)[..., None]
    img = np.where(person, (1 - alpha) * rgb + alpha * col, 0.5 * rgb).astype(np.uint8)
    # Label borders in black so neighbouring regions read apart.
    edge = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    img[edge] = 0
    h = img.shape[0]
    legend = np.full((h, 130, 3), 255, np.uint8)
    for k, name in enumerate(SEGMENT_LABELS):
        y = 12 + 22 * k
        cv2.rectangle(legend, (6, y), (22, y + 14), tuple(int(c) for c in PALETTE[k]), -1)
        cv2.putText(legend, name, (28, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([img, legend], axis=1)


def overlay_png(rgb: np.ndarray, labels: np.ndarray) -> bytes:
    """The overlay as PNG file bytes (--debug's NAME.segmentation.png)."""
    _, buf = cv2.imencode(".png", overlay(rgb, labels)[..., ::-1])
    return buf.tobytes()
