"""Hair against devset_clothed's exact truth: where the hair layer is the visible surface, from
the photo's camera and from the side / back / other side (height-normalised alignment, as
clothed_metrics), plus how far down the hair reaches and how far it stands off the head.

Side and back views are aligned on the head: scaled to the truth's height as clothed_metrics'
_hn, then the avatar's naked head centroid put on the true one (the body's lean and depth are
the whole-avatar metrics' business; the centroid of the whole surface would also move with the
hair, and cards have several times a shell's area). Truth hair: the hair shell's faces (clothed_part 2) and hair painted on the body
(face_region 1). Avatar hair: the faces of its layer with role "hair".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from clothed_metrics import GRID_M, NOVEL_DEG, iou, rotation_about, triangles
from scipy.spatial import cKDTree


def true_hair(sample_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """(vertices, triangles, hair per triangle, body vertices, gt) of the clothed truth."""
    g = np.load(Path(sample_dir) / "gt.npz")
    v = g["clothed_vertices"].astype(np.float64)
    f = triangles(g["clothed_faces"])
    hair = g["clothed_part"] == 2
    hair[:len(g["face_region"])] |= g["face_region"] == 1
    return v, f, hair, g["vertices"].astype(np.float64), g


def _visible(pts: np.ndarray, depth: np.ndarray, tri: np.ndarray, is_hair: np.ndarray,
             w: int, h: int) -> np.ndarray:
    from backend.raster import rasterize
    face = rasterize(pts, tri, w, h, depth=depth).face
    return (face >= 0) & is_hair[np.maximum(face, 0)]


def _body_range(avatar) -> np.ndarray:
    """Indices of the body layer's vertices (all of them) in camera_space_mesh's vertices."""
    from protocol import FACE_ROLES
    start = 0
    for lay in avatar.layers:
        if lay.role in FACE_ROLES or not len(lay.faces):
            continue
        if lay.role == "body":
            return np.arange(start, start + len(lay.vertices))
        start += len(lay.vertices)
    raise ValueError("the avatar has no body layer")


def _head_alignment(v, body_a, tv, body_t, up) -> tuple[np.ndarray, np.ndarray, float]:
    """(truth point, avatar point, scale): the avatar scaled so its naked body has the true
    naked body's height and its naked head's centroid put on the true naked head's (both
    are Anny's topology), so the hair is compared around the same head: the body fit's own
    lean and depth are what the whole-avatar metrics measure."""
    from backend.fit.segmentation import P, vertex_parts
    head = vertex_parts("anny").part == P["head"]
    k = float(np.ptp(body_t @ up)) / max(float(np.ptp(v[body_a] @ up)), 1e-9)
    if len(body_a) != len(head) or len(body_t) != len(head):
        raise ValueError("hair metrics need an Anny avatar (the head is found by topology)")
    return body_t[head].mean(0), v[body_a][head].mean(0), k


def hair_scores(avatar, sample_dir: Path) -> dict[str, float]:
    from backend.fit.posing import camera_space_mesh
    tv, tt, th, body_t, g = true_hair(sample_dir)
    v, tri, owner = camera_space_mesh(avatar)
    roles = np.array([lay.role for lay in avatar.layers])
    ah = roles[owner] == "hair"
    cam = avatar.camera
    w, h = (int(x) for x in g["image_size"])
    z = np.maximum(v[:, 2], 1e-6)
    a_px = np.stack([cam.fx * v[:, 0] / z + cam.cx, cam.fy * v[:, 1] / z + cam.cy], 1)
    K = g["K"]
    uv = (K @ tv.T).T
    t_px = uv[:, :2] / uv[:, 2:3] + 0.5
    row = {"hair_iou_front": iou(_visible(a_px, v[:, 2], tri, ah, w, h),
                                 _visible(t_px, tv[:, 2], tt, th, w, h))}
    up = g["R_world2cam"][:, 2].astype(np.float64)
    body_a = _body_range(avatar)
    c_t, c, k = _head_alignment(v, body_a, tv, body_t, up)
    vn = (v - c) * k + c_t
    views = []
    for key, deg in NOVEL_DEG.items():
        r = rotation_about(up, deg)
        a, b = (vn - c_t) @ r.T, (tv - c_t) @ r.T
        lo = np.minimum(a[:, :2].min(0), b[:, :2].min(0)) - 2 * GRID_M
        hi = np.maximum(a[:, :2].max(0), b[:, :2].max(0)) + 2 * GRID_M
        gw, gh = np.ceil((hi - lo) / GRID_M).astype(int)
        views.append(iou(_visible((a[:, :2] - lo) / GRID_M, a[:, 2], tri, ah, gw, gh),
                         _visible((b[:, :2] - lo) / GRID_M, b[:, 2], tt, th, gw, gh)))
        row[f"hair_{key}"] = views[-1]
    row["hair_iou_novel"] = float(np.mean(views))
    # reach: the lowest hair point along world up (truth minus avatar: + = avatar longer)
    a_hair = np.unique(tri[ah].ravel())
    t_hair = np.unique(tt[th].ravel())
    row["hair_bottom_cm"] = 100.0 * float((tv[t_hair] @ up).min() - (vn[a_hair] @ up).min()) \
        if len(a_hair) else float("nan")
    # stand-off: 99th percentile of hair points' distance to their own body's vertices (all of
    # them: the scalp's faces are hidden under the hair, not its vertices)
    if len(a_hair):
        d_a = cKDTree(vn[body_a]).query(vn[a_hair])[0]
        row["hair_off_cm"] = 100.0 * float(np.percentile(d_a, 99))
    else:
        row["hair_off_cm"] = float("nan")
    row["hair_off_true_cm"] = 100.0 * float(np.percentile(cKDTree(body_t).query(tv[t_hair])[0],
                                                          99))
    return row


HAIR_COLUMNS = [("front", "hair_iou_front", "{:.3f}"), ("novel", "hair_iou_novel", "{:.3f}"),
                ("side90", "hair_iou_side90", "{:.3f}"), ("back180", "hair_iou_back180", "{:.3f}"),
                ("side270", "hair_iou_side270", "{:.3f}"), ("bottom cm", "hair_bottom_cm", "{:+.1f}"),
                ("off cm", "hair_off_cm", "{:.1f}"), ("true off", "hair_off_true_cm", "{:.1f}")]


def print_hair_table(rows: list[tuple[str, dict]]) -> None:
    """rows: (label, hair_scores) per photo; then the mean."""
    print("\nhair (visible hair-layer pixels vs the true hair; novel views height-normalised; "
          "bottom: avatar's lowest hair below the truth's, + = longer; off: 99th pct distance "
          "of hair points to the body):")
    print(f"  {'':30s} " + " ".join(f"{t:>9s}" for t, _, _ in HAIR_COLUMNS))
    for label, m in rows + [("MEAN", {k: float(np.nanmean([r[k] for _, r in rows]))
                                      for k in rows[0][1]})] if rows else []:
        print(f"  {label:30s} " + " ".join(f"{fmt.format(m[key]):>9s}"
                                           for _, key, fmt in HAIR_COLUMNS))


if __name__ == "__main__":          # quick: the hair of a few devset_clothed photos
    import argparse
    import json
    import sys
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="*", help="sample names (default: all with hair)")
    args = ap.parse_args()
    data = root.parent / "shared" / "data" / "devset_clothed"
    index = json.loads((data / "index.json").read_text())["samples"]
    from backend.fit.pipeline import reconstruct_photo
    rows = []
    for s in index:
        if (args.samples and s["name"] not in args.samples) or not s["hair"]:
            continue
        rec = reconstruct_photo((data / s["image"]).read_bytes(), s["name"])
        hair = rec.avatar.layer("hair")
        print(s["name"], s["hair"], "->", hair.name if hair else None,
              rec.debug["outfit"].hair_length if rec.debug["outfit"] else None, flush=True)
        rows.append((f"{s['name']} {s['hair']}", hair_scores(rec.avatar, data / s["name"])))
    print_hair_table(rows)
