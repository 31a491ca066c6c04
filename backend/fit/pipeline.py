"""Photo bytes -> rigged, clothed, textured avatar posed as in the photo, with its camera.

Stages: read -> perceive -> fit body -> fit clothing -> texture -> assemble. Input problems
raise JobInputError(code="bad_input") before any fitting starts.

The body model is a parameter: Anny (default) or an SMPL-family model whose files the user has
(the body model gives its fitting rig, cached by rigs.py; the stages only use the
bodies.protocol.FitRig interface). A model without a UV layout (SMPL files without their UV
.obj) gets no photo texture but one base colour from the photo, said in a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from protocol import Camera, Pose, RiggedAvatar
from rig import rotations as Q

from .. import __version__
from ..avatar_build import avatar_from_rest_body
from ..bodies import DEFAULT_BODY_MODEL, RestBody
from ..errors import JobInputError
from ..garments.layers import ROLE_ORDER, hide_covered_faces
from ..garments.outfit import Outfit
from ..generate.face_keys import add_bound_shape_keys
from ..imageio import Photo, read_photo
from ..perception import PersonObservation, get_detector
from ..raster import mask_iou, rasterize
from ..textures.photo_bake import bake_photo_texture
from .body_fit import BodyFitter, Intrinsics
from .dressing import (
    Dressing,
    bake_garments,
    dress,
    garment_layers,
    garment_meshes,
    posed_union,
)
from .expression import find_face, set_photo_expression
from .focal import FocalChoice, choose_focal
from .geometry import project
from .hands import set_photo_hands
from .head import set_photo_head
from .outfit import outfit_dict, recognise_outfit
from .posing import posed_vertices
from .rigs import fit_rig
from .segmentation import segment_photo

QUALITY = {   # body iterations, clothing iterations (0: body only), silhouette grid, texture
    "fast": (70, 0, 112, 512),
    "default": (100, 60, 128, 1024),
    "high": (250, 120, 192, 2048),
}

Progress = Callable[[str, float], None]


@dataclass
class Reconstruction:
    avatar: RiggedAvatar
    timings: dict[str, float]
    stats: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    debug: dict = field(default_factory=dict)   # working-resolution arrays for overlays/benchmarks


def _rig(body_model: str = DEFAULT_BODY_MODEL):
    """The process-wide fitting rig (read-only after construction, shared by workers)."""
    return fit_rig(body_model)[0]


def reconstruct_photo(data: bytes, name: str = "photo", quality: str = "default",
                      progress: Progress = lambda s, f: None,
                      body_model: str = DEFAULT_BODY_MODEL, *,
                      person: PersonObservation | None = None,
                      focal: FocalChoice | None = None,
                      world_rotation: np.ndarray | None = None,
                      outfit: Outfit | None = None) -> Reconstruction:
    """One avatar from a photo. For one person of a group (fit.people): ``person`` is that
    person's observation (its instance mask) on the photo's working image, ``focal`` the
    group's shared focal and ``world_rotation`` (3x3, camera OpenCV axes -> world) the
    group's shared camera orientation; the camera stays the whole photo's either way.
    ``outfit``: the garments to dress the avatar in, instead of the ones recognised in the
    photo (for tests and benchmarks that know them)."""
    if quality not in QUALITY:
        raise JobInputError(f"unknown quality {quality!r}; choose one of {', '.join(QUALITY)}",
                            code="bad_params")
    if not isinstance(body_model, str):
        raise JobInputError("'body_model' must be a body model name such as 'anny' or 'smplx'")
    fit_rig(body_model)        # unknown or absent model: its clear error before any work
    # One thread: the fit is many small ops, and two threads fighting another process for
    # the same cores made iterations many times slower (measured 4x on this machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _reconstruct(data, name, quality, progress, body_model,
                            person, focal, world_rotation, outfit)
    finally:
        torch.set_num_threads(threads)


def _reconstruct(data: bytes, name: str, quality: str, progress: Progress,
                 body_model: str, person: PersonObservation | None = None,
                 focal: FocalChoice | None = None,
                 world_rotation: np.ndarray | None = None,
                 outfit: Outfit | None = None) -> Reconstruction:
    body_iters, cloth_iters, grid, tex_size = QUALITY[quality]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    progress("read photo", 0.02)
    photo = read_photo(data, name)
    lap("read")
    progress("find the person", 0.05)
    obs = person if person is not None else get_detector().observe(photo.rgb)
    warnings = check_person(obs, photo, name)
    target = target_mask(obs, photo)
    lap("perceive")

    rig, edges = fit_rig(body_model)
    h, w = photo.rgb.shape[:2]
    focal = focal or choose_focal(photo.focal_35mm, obs, w, h)
    f = focal.f_px
    cam = Intrinsics(f=f, cx=w / 2.0, cy=h / 2.0, width=w, height=h)
    progress("fit body", 0.1)
    fit = BodyFitter(rig).fit(obs, target.astype(np.float32), cam, iters=body_iters, grid=grid,
                              progress=lambda x: progress("fit body", 0.1 + 0.5 * x))
    lap("fit_body")
    seg = segment_photo(photo.rgb, target, obs, rig, fit)
    if outfit is None:
        outfit = _recognise(seg)
    lap("segment")
    progress("fit clothing", 0.6)
    with torch.no_grad():
        deltas = rig.deltas(fit.rest, fit.global_rot, fit.translation, fit.bone_rotvecs)
    dressing = dress(rig, fit, deltas, outfit, cam, target, photo.rgb, edges, cloth_iters,
                     warnings, progress=lambda x: progress("fit clothing", 0.6 + 0.15 * x))
    offsets = dressing.offsets
    with torch.no_grad():
        posed, bone_poses = rig.pose(fit.rest, deltas, offsets)
        rest_model = (fit.rest.vertices[0] + offsets).numpy()
    posed = posed.numpy()
    lap("fit_clothing")

    progress("texture", 0.78)
    baked, colour, meshes, garment_bakes = None, (0.8, 0.62, 0.52, 1.0), [], {}
    if rig.uvs is not None:
        meshes = garment_meshes(dressing, rig.mesh_faces, rig.uvs)
        labels = seg.labels if meshes else None     # the body takes skin, face and hair
        baked = bake_photo_texture(photo.rgb, target, posed, rest_model, rig.mesh_faces,
                                   rig.uvs, f, cam.cx, cam.cy, rig.head_height(fit.rest),
                                   size=tex_size, labels=labels, occluders=meshes or None)
        garment_bakes = bake_garments(photo.rgb, target, cam, labels, meshes, posed,
                                      rig.mesh_faces)
    else:
        colour = base_colour(photo.rgb, target)
        warnings.append(f"the {rig.name} model files have no UV layout (put the model's UV "
                        f".obj, e.g. {rig.name}_uv.obj, in the SMPL folder), so the photo "
                        f"was not baked into a texture; the avatar has one colour sampled "
                        f"from the photo")
    lap("texture")

    progress("assemble avatar", 0.95)
    shape = rig.shape_params(fit.shape)
    avatar = _assemble(rig, fit, dressing, shape, photo, baked, colour, name, warnings,
                       world_rotation, meshes, garment_bakes)
    face = find_face(photo.rgb, obs)                  # one FaceMesh run: expression and head
    set_photo_expression(avatar, photo.rgb, obs, face)  # ARKit weights; neutral without a face
    lap("assemble")
    set_photo_head(avatar, face, w / photo.width)     # neck and head turned to the face
    set_photo_hands(avatar, photo.rgb, obs, w / photo.width)   # fingers and wrists
    lap("hands_head")

    union_v, union_f, _ = posed_union(dressing.garments, posed, rig.mesh_faces)
    pix = project(torch.from_numpy(union_v), f, cam.cx, cam.cy).numpy()
    sil = rasterize(pix, union_f, w, h, depth=union_v[:, 2]).mask
    size_px = _person_height_px(obs, target)
    stats = {"iou_perception_mask": round(mask_iou(sil, obs.mask > 0.5), 4),
             "kp_err_px": round(fit.kp_err_px / photo.scale, 2),
             "kp_err_pct": round(100.0 * fit.kp_err_px / max(size_px, 1.0), 3),
             "texture_seen": round(baked.seen_fraction, 4) if baked else 0.0,
             "texture_mirrored": round(baked.mirrored_fraction, 4) if baked else 0.0,
             "texture_inpainted": round(baked.inpainted_fraction, 4) if baked else 0.0,
             "max_clothing_offset_m": round(float(offsets.norm(dim=1).max()), 4),
             "garment_texture_seen": {k: round(b.seen_fraction, 4)
                                      for k, b in garment_bakes.items()},
             "focal_35mm": round(focal.focal_35mm, 2),
             "height_m": round(_body_height(fit.rest), 4)}
    avatar.metadata["fit"] = dict(stats)
    avatar.metadata["camera_focal"] = focal.as_dict()
    avatar.metadata["outfit"] = outfit_dict(outfit) if outfit is not None else None
    avatar.metadata["timings"] = dict(timings)
    progress("done", 1.0)
    return Reconstruction(avatar, timings, stats, warnings,
                          debug={"photo": photo, "obs": obs, "silhouette": sil, "target": target,
                                 "texture": baked, "focal": focal,
                                 "segmentation": seg.labels, "outfit": outfit,
                                 **_bone_heads(rig, bone_poses)})


def _recognise(seg) -> Outfit | None:
    """The photo's Outfit, or None when recognition fails: the clothing then falls back to
    the offset layer (with a warning), it never fails the reconstruction."""
    try:
        return recognise_outfit(seg)
    except Exception:            # noqa: BLE001 - any failure here only costs the garments
        return None


def _bone_heads(rig, poses) -> dict:
    """(B, 3) camera-frame bone heads (metres) and their names, for 3D benchmarks. Anny's rig
    returns bone poses (B, 4, 4); an SMPL rig returns its joints (J, 3)."""
    poses = np.asarray(poses)
    if poses.ndim == 3:
        return {"bone_heads_cam": poses[:, :3, 3], "bone_names": list(rig.bone_names)}
    return {"bone_heads_cam": poses, "bone_names": list(getattr(rig, "joint_names", []))}


def _body_height(rest) -> float:
    """Standing height (metres) of the fitted body's rest mesh (z up), clothing left out."""
    z = rest.vertices[0, :, 2]
    return float(z.max() - z.min())


def _person_height_px(obs: PersonObservation, mask: np.ndarray) -> float:
    ys = np.nonzero(mask.any(axis=1))[0]
    return float(ys.max() - ys.min() + 1) if ys.size else float(mask.shape[0])


def check_person(obs: PersonObservation | None, photo: Photo, name: str) -> list[str]:
    """Refuse photos without a usable person; return warnings for the usable-but-odd ones."""
    if obs is None or (obs.mask > 0.5).sum() < 0.002 * obs.mask.size:
        raise JobInputError(f"no person found in {name}; use a photo in which one person is "
                            f"clearly visible, ideally head to feet", code="bad_input")
    vis = obs.visibility
    core = [0, 11, 12, 23, 24]        # nose, shoulders, hips
    if (vis[core] < 0.3).sum() >= 3:
        raise JobInputError(f"{name} shows too little of the person (head, shoulders and hips "
                            f"must be in the frame); use a photo with the whole upper body",
                            code="bad_input")
    ys = np.nonzero((obs.mask > 0.5).any(axis=1))[0]
    if ys.size and ys.max() - ys.min() < 48:
        raise JobInputError(f"the person in {name} is only {ys.max() - ys.min()} pixels tall; "
                            f"use a photo in which the person is larger", code="bad_input")
    warnings = []
    if obs.people_count > 1:
        warnings.append(f"several people found in {name}; reconstructed the most prominent one "
                        f"(crop the photo to choose another)")
    if (vis[[27, 28]] < 0.5).all():
        warnings.append(f"feet not visible in {name}; legs estimated")
    elif (vis[[15, 16]] < 0.5).all():
        warnings.append(f"hands not visible in {name}; arms estimated")
    m = obs.mask > 0.5
    if m[0].mean() > 0.02 or m[-1].mean() > 0.02 or m[:, 0].mean() > 0.05 or m[:, -1].mean() > 0.05:
        warnings.append(f"the person is cut off at the edge of {name}; the missing part is "
                        f"estimated")
    if photo.grayscale:
        warnings.append(f"{name} has no colour; the texture is grey")
    return warnings


def target_mask(obs: PersonObservation, photo: Photo) -> np.ndarray:
    """The person mask to fit: the photo's own alpha cut-out when it agrees with perception."""
    seg = obs.mask > 0.5
    if photo.alpha is not None:
        alpha = photo.alpha > 0.5
        if mask_iou(alpha, seg) > 0.7:
            return alpha
    return seg


def base_colour(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float, float, float]:
    """One linear-RGB colour (what Blender's Base Color takes) for a body without UVs: the
    median of the person's pixels, eroded away from the mask's mixed edge."""
    import cv2
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 50:
        inner = mask
    srgb = np.median(rgb[inner].reshape(-1, 3), axis=0) / 255.0 if inner.any() \
        else np.array([0.8, 0.62, 0.52])
    lin = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return (*(round(float(c), 4) for c in lin), 1.0)


def _rounded(params: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else
            [round(x, 4) for x in v] if isinstance(v, list) else v for k, v in params.items()}


def _assemble(rig, fit, dressing: Dressing, shape: dict, photo: Photo, baked,
              colour: tuple, name: str, warnings: list[str],
              world_rotation: np.ndarray | None = None, meshes=(), garment_bakes=None
              ) -> RiggedAvatar:
    body = rig.body
    if dressing.rest is not None:        # the garments' body (fallback offsets already on)
        rest: RestBody = dressing.rest
    else:
        rest = body.rest_body(shape)
        rest.vertices = (rest.vertices + dressing.offsets.numpy()).astype(np.float32)
    lift = rest.heads[0] - fit.rest.heads[0, 0].numpy()     # rest_body's feet-on-floor lift
    quats = rig.bone_quaternions(rest, fit.bone_rotvecs.numpy().astype(np.float64))
    # World orientation: the camera is assumed level (photos mostly are), looking along +Y,
    # so gravity is the photo's down. A small residual tilt of the body (< 20 deg) is taken
    # as camera pitch/roll instead, so standing people stand straight.
    r_g, t_g = fit.global_rot.numpy().astype(np.float64), fit.translation.numpy()
    r_w = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])     # OpenCV camera -> world
    up = r_w @ r_g @ np.array([0.0, 0.0, 1.0])
    tilt = float(np.arccos(np.clip(up[2], -1.0, 1.0)))
    if world_rotation is not None:      # a group shares one camera orientation
        r_w = np.asarray(world_rotation, dtype=np.float64)
    elif 1e-6 < tilt < np.radians(20.0):
        axis = np.cross(up, [0.0, 0.0, 1.0])
        r_w = Q.axis_angle_to_matrix(axis / np.linalg.norm(axis) * tilt) @ r_w
    r_a = r_w @ r_g                                               # model -> world rotation
    p0 = rig.root_rest_frame(fit.rest)
    r0, h0 = p0[:3, :3], p0[:3, 3]
    # Blender turns the root about its head: basis = R0^T R_A R0 gives orientation R_A R0.
    quats[0] = Q.from_matrix(r0.T @ r_a @ r0)
    pose = Pose(rotations=quats, location=np.zeros(3, np.float32))
    if baked is not None:
        warnings.extend(rest.warnings)
    meta = {"body_model": body.name, "params": _rounded(shape),
            "producer": "doppel.reconstruct", "doppel_version": __version__,
            "warnings": list(warnings), "pose_location_space": "armature"}
    meta.update({k: v for k, v in rest.metadata.items() if k not in meta})
    avatar = avatar_from_rest_body(rest, name, meta, texture=baked.png if baked else None,
                                   pose=pose, source_image=photo.encoded)
    avatar.layers[0].base_color = colour
    if dressing.garments:
        layers = garment_layers(dressing, rest, meshes, garment_bakes)
        full_faces = rest.faces
        hide_covered_faces(avatar.layers[0], full_faces, rest.uvs, layers)
        add_bound_shape_keys(layers, avatar.layers[0])
        avatar.layers.extend(sorted(layers, key=lambda lay: ROLE_ORDER.index(lay.role)))
        avatar.metadata["hidden_skin"] = ("body faces under a garment are left out; see "
                                          "binding.hides")
        avatar.metadata["garments"] = {g.template.role: {"style": g.template.style,
                                                         "params": g.params}
                                       for g in dressing.garments}
    avatar.metadata["clothing"] = dressing.mode
    # Feet (or shoes) on the floor: drop the posed avatar so its lowest point touches z = 0.
    lowest = min(float(posed_vertices(avatar, i)[:, 2].min())
                 for i, lay in enumerate(avatar.layers) if lay.role in ("body", "shoes"))
    loc = np.array([0.0, 0.0, -lowest])
    pose.location = loc.astype(np.float32)
    # World point of a camera-space point: p_w = R_W (p_cam - t_G) - R_A h0 + h0 + lift + loc.
    world_from_cv = np.eye(4)
    world_from_cv[:3, :3] = r_w
    world_from_cv[:3, 3] = -r_w @ t_g - r_a @ h0 + h0 + lift + loc
    world_from_cam = world_from_cv @ np.diag([1.0, -1.0, -1.0, 1.0])
    h, w = photo.rgb.shape[:2]
    sx, sy = w / photo.width, h / photo.height
    cam = fit.camera
    avatar.camera = Camera(fx=cam.f / sx, fy=cam.f / sy, cx=cam.cx / sx, cy=cam.cy / sy,
                           width=photo.width, height=photo.height,
                           world_from_camera=world_from_cam.astype(np.float32))
    return avatar
