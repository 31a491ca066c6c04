"""Fit a body model's pose, shape and placement to one person seen by a perspective camera.

The body model comes as a fitting rig (backend.bodies.protocol.FitRig: Anny's phenotypes or
SMPL's betas as shape).

Energy (Adam, two stages): confidence-weighted 2D keypoint reprojection + 3D limb directions
and the 3D keypoint shape of a pose prior (our learned 2D->3D lifter, lifting.py, blended with
MediaPipe's world landmarks; camera-aligned, so they fix orientation even for people seen
from behind) + soft silhouette IoU against the person mask + priors (anatomical joint ranges
with knees and elbows as hinges, joint_limits.py; no limb twist; a Gaussian shape prior
around the model's mean: clothing otherwise inflates the body, and absolute size is
unobservable from one photo).
Readings of the detection that 2D cannot tell apart (hypotheses.py) can each get a short fit,
the best one the full fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import roma
import torch

from ..bodies import RestState
from ..perception import PersonObservation
from .geometry import project, rotation_from_world_landmarks
from .hypotheses import READINGS, reading
from .joint_limits import JointLimits
from .landmarks import PAIRS, SEGMENTS
from .lifting import lifted_world
from .silhouette import soft_iou_loss, soft_silhouette


@dataclass
class Crop:
    """The silhouette grid: a box of the working image, resampled to a small raster."""

    x0: float
    y0: float
    scale: float          # grid px per working px
    width: int
    height: int
    target: torch.Tensor  # (height, width) person mask on the grid, 0..1

    def to_grid(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - torch.tensor([self.x0, self.y0])) * self.scale


@dataclass
class Intrinsics:
    """Pinhole intrinsics at working resolution (OpenCV convention), pixels."""

    f: float
    cx: float
    cy: float
    width: int
    height: int


@dataclass
class BodyFit:
    shape: torch.Tensor          # (1, S) the rig's shape (Anny: 6 phenotypes 0..1; SMPL: betas)
    global_rot: torch.Tensor     # (3, 3) model space -> camera space
    translation: torch.Tensor    # (3,) metres, camera space
    bone_rotvecs: torch.Tensor   # (len(rig.fit_bones), 3) axis-angle in bone rest frames
    rest: RestState
    camera: Intrinsics
    crop: Crop
    kp_err_px: float             # mean visible keypoint error, working pixels
    reading: str = READINGS[0]   # which reading of the detection won (hypotheses.py)


def make_crop(obs: PersonObservation, mask: np.ndarray, grid: int) -> Crop:
    """Box around mask and confident keypoints, padded, mapped to a grid with long side ``grid``."""
    ys, xs = np.nonzero(mask > 0.5)
    pts = obs.keypoints[obs.visibility > 0.5]
    if xs.size:
        pts = np.concatenate([pts, np.stack([[xs.min(), ys.min()], [xs.max(), ys.max()]])])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.12 * (hi - lo).max() + 4
    lo, hi = lo - pad, hi + pad
    scale = grid / max(hi - lo)
    gw, gh = (np.ceil((hi - lo) * scale)).astype(int)
    # Resample the mask onto the grid: affine warp handles boxes partly outside the image.
    aff = np.array([[scale, 0, -lo[0] * scale], [0, scale, -lo[1] * scale]], np.float32)
    small = cv2.warpAffine(mask.astype(np.float32), aff, (int(gw), int(gh)),
                           flags=cv2.INTER_AREA, borderValue=0.0)
    return Crop(float(lo[0]), float(lo[1]), float(scale), int(gw), int(gh),
                torch.from_numpy(np.clip(small, 0, 1)))


# Energy weights. With the joint ranges (joint_limits.py) the pull of every bone towards rest
# could go (devset_pose PA-MPJPE 75 -> 73 mm) but standing people in loose clothes then bent
# their hidden knees (devset_clothed 45 -> 49 mm), so it stays.
PRIOR_W = 0.02         # every bone towards rest (standing people in loose clothes need it)
LIMIT_W = 10.0         # squared radians outside the anatomical ranges
READING_TRIALS = True  # try every reading of the detection (hypotheses.py) and keep the best
REREAD_MARGIN = 0.03   # score by which another reading must beat the detector's own
TRIAL_ITERS = 20       # joint refinement steps per reading before it is scored
# The lifter alone (1.0) fitted devset_pose a little better (PA-MPJPE 64 vs 65 mm) but bent a
# real standing person's knees (ryota's IoU 0.935 -> 0.930); half and half kept him upright.
LIFT_MIX = 0.5         # 3D keypoints: 1 the lifter's (lifting.py), 0 MediaPipe's, between: blended
LIFT_KP_W = 1.0        # the lifter's whole 3D keypoint shape as a prior (after scaling)
SCORE_DIR_W = 1.0      # weight of the 3D-direction agreement in a reading's score
FACE_W = 1.0           # a face the detector saw on the head, turned away from the camera
OCCLUDED_W = 0.3       # weight of a keypoint the fitted body hides from the camera
JOINT_DEPTH = 0.15     # metres of body in front of a joint that still count as its own limb
SURFACE_DEPTH = 0.04   # ... in front of a point on the skin (nose, eyes, ears, heels, toes)


class BodyFitter:
    def __init__(self, rig) -> None:
        self.rig = rig
        labels = rig.kp_labels
        # Pairs whose keypoint this body model lacks (a procedural SMPL body has no face
        # vertices) are left out; Anny has them all.
        self.pairs = [p for p in PAIRS if p[1] in labels]
        self.kp_index = torch.tensor([labels.index(lab) for _, lab, _ in self.pairs])
        self.mp_index = np.array([i for i, _, _ in self.pairs])
        self.kp_weight = torch.tensor([w for _, _, w in self.pairs], dtype=torch.float32)
        pos = {mp: k for k, (mp, _, _) in enumerate(self.pairs)}
        self.seg = torch.tensor([[pos[a], pos[b]] for a, b in SEGMENTS if a in pos and b in pos])
        self.twist_mask = torch.tensor([[0.0, 1.0, 0.0] if n in rig.twist_bones
                                        else [0.0, 0.3, 0.0] for n in rig.fit_bones])
        self.shape_w = rig.shape_prior_weight
        self.limits = JointLimits(rig.fit_bones)
        order = [lab for _, lab, _ in self.pairs]
        self.surface_kp = torch.tensor([any(t in lab for t in ("nose", "eye", "ear", "heel", "toe"))
                                        for lab in order])
        face = ("nose", "left_ear", "right_ear")
        self.head = tuple(order.index(n) for n in face) if all(n in order for n in face) \
            else None

    def fit(self, obs: PersonObservation, mask: np.ndarray, camera: Intrinsics, iters: int = 160,
            grid: int = 128, progress=lambda f: None) -> BodyFit:
        rig = self.rig
        crop = make_crop(obs, mask, grid)
        # The splat's soft edge reaches ~1 px past the surface; fitting it to a target grown
        # by that much puts the true edge on the mask's edge instead of inside it.
        grown = torch.from_numpy(cv2.dilate(crop.target.numpy(), np.ones((3, 3), np.uint8)))
        shape0 = rig.default_shape()
        rest0 = rig.rest_state_subset(shape0)

        # Each reading of the detection (hypotheses.py) gets the cheap stages (3D directions,
        # placement, a short joint refinement); the best one then gets the full fit.
        trials = []
        # Only a seen face tells front from back when the landmarks are read the wrong way
        # round; without one the readings tie and the detector's own stands.
        names = READINGS if READING_TRIALS and obs.face_score > 0 else READINGS[:1]
        for name in names:
            p = _Problem(self, reading(obs, name), camera, crop, grown, shape0, rest0, name)
            p.run([p.bones_free], 40, 0.05, kp_w=0.0, dir_w=1.0, sil_w=0.0, free_shape=False)
            p.run([p.rot_delta, p.trans], 30, 0.03, kp_w=1.0, dir_w=0.0, sil_w=0.0,
                  free_shape=False)
            if READING_TRIALS:
                p.run([p.rot_delta, p.trans, p.bones_free], TRIAL_ITERS, 0.03, kp_w=1.0,
                      dir_w=1.0, sil_w=0.0, free_shape=False)
                with torch.no_grad():
                    p.score = float(p.evaluate(1.0, SCORE_DIR_W, 2.0, False)[0])
            trials.append(p)
            progress(0.15 * len(trials) / len(names))
        # The detector's own reading stands unless another explains the photo clearly
        # better: near-ties are readings that both fit (the lifter lifts either consistently).
        p = min(trials, key=lambda t: t.score - (REREAD_MARGIN if t is trials[0] else 0.0))
        self.trials = [(t.name, t.score) for t in trials]     # for benchmarks and logs
        # Stage C: everything, silhouette joining once the limbs are roughly in place.
        opt = torch.optim.Adam([{"params": [p.rot_delta, p.bones_free], "lr": 0.03},
                                {"params": [p.trans], "lr": 0.01},
                                {"params": [p.shape_free], "lr": 0.05}])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters, eta_min=0.003)
        for it in range(iters):
            if it % 20 == 0:
                p.update_occlusion()
            opt.zero_grad()
            sil_w = 0.0 if it < iters // 3 else 2.0
            p.evaluate(1.0, 1.0, sil_w, True)[0].backward()
            opt.step()
            sched.step()
            if it % 20 == 0:
                progress(0.15 + 0.85 * it / iters)
        with torch.no_grad():
            shape = rig.shape_from_free(p.shape_free)
            g = p.global_rot()
            bones = p.bones()
            rest = rig.rest_state(shape)
            verts, _ = rig.pose(rest, rig.deltas(rest, g, p.trans, bones))
            pix = project(rig.keypoints(verts)[self.kp_index], camera.f, camera.cx, camera.cy)
            vis_ok = p.vis > 0.5
            kp_err = float((pix - p.kp2d).norm(dim=1)[vis_ok].mean()) if vis_ok.any() \
                else float("nan")
        return BodyFit(shape, g, p.trans.detach(), bones.detach(), rest, camera, crop, kp_err,
                       reading=p.name)

    def _initial_translation(self, rig, rest, rot, kp2d, vis, camera) -> torch.Tensor:
        """Depth from the torso's pixel length, x/y from the mid-hip pixel."""
        with torch.no_grad():
            deltas = rig.deltas(rest, rot, torch.zeros(3), torch.zeros(len(rig.fit_bones), 3))
            verts = rig.pose_subset(rest, deltas)
            kp = rig.keypoints_subset(verts)
            lab = rig.kp_labels
            mid = lambda a, b: 0.5 * (kp[lab.index(a)] + kp[lab.index(b)])
            sh, hip = mid("left_shoulder", "right_shoulder"), mid("left_hip", "right_hip")
            order = [m for m, _, _ in self.pairs]
            p = lambda m: kp2d[order.index(m)]
            sh2, hip2 = 0.5 * (p(11) + p(12)), 0.5 * (p(23) + p(24))
            torso_px = float((sh2 - hip2).norm().clamp_min(5.0))
            torso_m = float((sh - hip).norm())
            z = camera.f * torso_m / torso_px
            ray = torch.tensor([(float(hip2[0]) - camera.cx) / camera.f,
                                (float(hip2[1]) - camera.cy) / camera.f, 1.0])
            return ray * z - hip


class _Problem:
    """One reading of the detection being fitted: its targets and its free parameters."""

    def __init__(self, fitter: BodyFitter, obs: PersonObservation, camera: Intrinsics,
                 crop: Crop, grown: torch.Tensor, shape0, rest0, name: str) -> None:
        self.f, self.rig, self.camera, self.crop, self.grown = fitter, fitter.rig, camera, crop, grown
        self.name, self.score = name, 0.0
        self.shape0, self.rest0 = shape0, rest0
        rig, mp = fitter.rig, fitter.mp_index
        self.vis = torch.from_numpy(obs.visibility[mp]).float()
        self.kp2d = torch.from_numpy(obs.keypoints[mp]).float()
        # The pose prior: the lifter's 3D keypoints (lifting.py) in place of the detector's.
        world_np = obs.world if LIFT_MIX == 0 else lifted_world(
            obs.keypoints, obs.visibility, obs.world, camera.f, camera.cx, camera.cy, LIFT_MIX)
        world = torch.from_numpy(world_np[mp]).float()
        self.lift3d = world
        self.conf0 = fitter.kp_weight * self.vis.clamp(0, 1) ** 2 * (self.vis > 0.3)
        self.conf = self.conf0
        self.face_score = float(obs.face_score)
        seg = fitter.seg
        d = world[seg[:, 1]] - world[seg[:, 0]]
        self.seg_dir = d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
        self.seg_conf = torch.minimum(self.vis[seg[:, 0]], self.vis[seg[:, 1]]).clamp(0, 1)
        c = self.conf > 0
        self.size_px = float((self.kp2d[c].max(0).values - self.kp2d[c].min(0).values).max()) \
            if c.sum() >= 2 else float(max(crop.target.shape) / crop.scale)
        self.r_init = torch.from_numpy(rotation_from_world_landmarks(world_np, obs.visibility))
        t_init = fitter._initial_translation(rig, rest0, self.r_init, self.kp2d, self.vis, camera)
        self.rot_delta = torch.zeros(3, requires_grad=True)
        self.trans = t_init.clone().requires_grad_(True)
        self.bones_free = torch.zeros(len(rig.fit_bones), 3, requires_grad=True)
        self.shape_free = torch.zeros(1, rig.shape_size, requires_grad=True)

    def update_occlusion(self) -> None:
        """LASOR's idea: a keypoint that the body's own surface hides (the fitted body as it
        stands now) is a guess of the detector's and costs little; a visible one costs fully."""
        rig, cam = self.rig, self.camera
        with torch.no_grad():
            rest = self.rest0
            verts = rig.pose_subset(rest, rig.deltas(rest, self.global_rot(), self.trans,
                                                     self.bones()))
            kp3 = rig.keypoints_subset(verts)[self.f.kp_index]
            hidden = self_occluded(verts, kp3, cam, self.crop, self.f.surface_kp)
        self.conf = self.conf0 * torch.where(hidden, OCCLUDED_W, 1.0)

    def global_rot(self) -> torch.Tensor:
        return roma.rotvec_to_rotmat(self.rot_delta) @ self.r_init

    def bones(self) -> torch.Tensor:
        return self.bones_free * self.f.limits.free_mask

    def evaluate(self, kp_w: float, dir_w: float, sil_w: float, free_shape: bool):
        f, rig, cam, crop = self.f, self.rig, self.camera, self.crop
        shape = rig.shape_from_free(self.shape_free)
        rest = rig.rest_state_subset(shape) if free_shape else self.rest0
        bones = self.bones()
        verts = rig.pose_subset(rest, rig.deltas(rest, self.global_rot(), self.trans, bones))
        kp3 = rig.keypoints_subset(verts)[f.kp_index]
        pix = project(kp3, cam.f, cam.cx, cam.cy)
        err = ((pix - self.kp2d) / self.size_px).pow(2).sum(1)
        conf = self.conf
        loss = kp_w * 10.0 * (conf * torch.sqrt(err + 1e-6)).sum() / conf.sum().clamp_min(1e-6)
        if dir_w > 0:
            d = kp3[f.seg[:, 1]] - kp3[f.seg[:, 0]]
            d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
            cos_err = (self.seg_conf * (1 - (d * self.seg_dir).sum(1))).sum()
            loss = loss + dir_w * cos_err / self.seg_conf.sum().clamp_min(1e-6)
        if dir_w > 0 and LIFT_KP_W > 0:
            loss = loss + dir_w * LIFT_KP_W * _aligned_error(kp3, self.lift3d, f.kp_weight)
        loss = loss + PRIOR_W * bones.pow(2).sum() + 0.5 * (bones * f.twist_mask).pow(2).sum()
        loss = loss + LIMIT_W * f.limits.penalty(bones)
        if self.face_score > 0 and f.head is not None:
            loss = loss + FACE_W * self.face_score * torch.relu(_facing_away(kp3, *f.head))
        if free_shape:
            loss = loss + 0.05 * (f.shape_w * (shape - self.shape0) ** 2).sum()
        if sil_w > 0:
            grid_px = crop.to_grid(project(verts, cam.f, cam.cx, cam.cy))
            sigma = _splat_sigma(verts, cam.f * crop.scale, spacing=rig.splat_spacing)
            sil = soft_silhouette(grid_px, crop.width, crop.height, sigma=sigma)
            loss = loss + sil_w * soft_iou_loss(sil, self.grown)
        return loss, pix

    def run(self, params, steps: int, lr: float, **weights) -> None:
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            self.evaluate(**weights)[0].backward()
            opt.step()


def self_occluded(verts: torch.Tensor, kp3: torch.Tensor, cam: Intrinsics, crop: Crop,
                  surface: torch.Tensor) -> torch.Tensor:
    """(K,) bool: keypoints behind the body's own surface, from a coarse z-buffer of the
    posed vertices (cells of ~2 silhouette-grid pixels, about one vertex spacing). Joints lie
    inside the limbs, so they count as hidden only when more than a limb's depth
    (JOINT_DEPTH) of body lies in front of them; surface points (face, heels, toes) when
    more than SURFACE_DEPTH does."""
    cell = 2.0
    w, h = int(crop.width // cell) + 1, int(crop.height // cell) + 1
    def cells(points):
        g = (crop.to_grid(project(points, cam.f, cam.cx, cam.cy)) / cell).long()
        ok = (g[:, 0] >= 0) & (g[:, 0] < w) & (g[:, 1] >= 0) & (g[:, 1] < h)
        return g[:, 1].clamp(0, h - 1) * w + g[:, 0].clamp(0, w - 1), ok
    idx, ok = cells(verts)
    zbuf = torch.full((w * h,), float("inf")).scatter_reduce(0, idx[ok], verts[ok, 2], "amin")
    kidx, kok = cells(kp3)
    margin = torch.where(surface, SURFACE_DEPTH, JOINT_DEPTH)
    return kok & (kp3[:, 2] > zbuf[kidx] + margin)


def _aligned_error(kp3: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted mean distance of the keypoints from the lifter's 3D keypoints, both about
    their centroid, the target scaled to the fit (scale is the one thing the lifter cannot
    know), relative to the body's size."""
    a, b = kp3 - kp3.mean(0), target - target.mean(0)
    s = (a * b).sum() / (b * b).sum().clamp_min(1e-9)
    size = a.norm(dim=1).mean().clamp_min(1e-6)
    return (w * (a - s * b).norm(dim=1)).sum() / w.sum() / size


def _facing_away(kp3: torch.Tensor, nose: int, ear_l: int, ear_r: int) -> torch.Tensor:
    """How far the model's face points away from the camera: cosine between the ears-to-nose
    direction and the viewing ray (-1 facing the camera, +1 the back of the head to it)."""
    ears = 0.5 * (kp3[ear_l] + kp3[ear_r])
    d = kp3[nose] - ears
    return (d * ears).sum() / (d.norm() * ears.norm()).clamp_min(1e-9)


def _splat_sigma(verts: torch.Tensor, f_grid: float, spacing: float = 0.012) -> float:
    """Splat radius (grid px) so neighbouring vertices (``spacing`` metres apart) overlap."""
    z = float(verts[:, 2].detach().mean().clamp_min(0.1))
    spacing_px = spacing * f_grid / z
    return max(0.6, 0.7 * spacing_px)
