"""Anny as a differentiable function for fitting: (phenotype, global pose, bone rotations, rest
offsets) -> posed vertices and keypoints in the photo's camera frame. The fitting-rig interface
it implements (shared with the SMPL family's rig) is protocol.FitRig.

Frames: Anny's own model space (Z up, -Y forward, NOT lifted to the floor) is posed and then
placed in the camera frame (OpenCV: x right, y down, z forward, metres) by one rigid transform G,
which Anny's 'local-bone' parameterisation takes as the root's world pose (W_0 = D_0 = G P_0).
Every other bone's delta is Blender's pose_bone matrix, so fitted rotations go to Blender as is.
"""

from __future__ import annotations

import numpy as np
import roma
import torch

from rig import rotations as Q

from .protocol import RestState

# Bones the fitter rotates (the rest stay at rest: fingers, toes, face, twist bones).
FIT_BONES = (
    "spine04", "spine02", "spine01", "neck01", "head",
    "clavicle.L", "upperarm01.L", "lowerarm01.L", "wrist.L",
    "clavicle.R", "upperarm01.R", "lowerarm01.R", "wrist.R",
    "upperleg01.L", "lowerleg01.L", "foot.L",
    "upperleg01.R", "lowerleg01.R", "foot.R",
)
TWIST_BONES = ("upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R",
               "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R")
# Phenotype prior weights: clothing otherwise inflates weight/muscle, and absolute size is
# unobservable from one photo.
PHENO_PRIOR = {"gender": 0.3, "age": 0.3, "muscle": 3.0, "weight": 3.0, "height": 0.3,
               "proportions": 1.0}


class AnnyFitRig:
    """Thin, stateless-ish wrapper: holds Anny's buffers, takes every parameter per call.
    Implements protocol.FitRig."""

    fit_bones = FIT_BONES
    twist_bones = TWIST_BONES
    splat_spacing = 0.02       # metres: the body-stage subset keeps every 3rd vertex

    def __init__(self, body) -> None:
        from anny.keypoints import KeypointsRegressor
        self.body = body
        self.name = body.name
        self.model = body.model
        self.bone_names = list(body.bone_names)
        self.fit_index = torch.tensor([self.bone_names.index(n) for n in FIT_BONES])
        self.bone_count = len(self.bone_names)
        reg = KeypointsRegressor.coco(self.model)
        self.kp_labels = list(reg.labels)
        self.kp_weights = reg.regression_weights.to(torch.float32)     # (K, V)
        self.faces = torch.as_tensor(body.faces, dtype=torch.long)
        self.mesh_faces = body.faces
        self.uvs = body.uvs
        self.vertex_count = int(self.kp_weights.shape[1])
        self.shape_size = len(self.model.phenotype_labels)
        self.shape_prior_weight = torch.tensor([PHENO_PRIOR[n]
                                                for n in self.model.phenotype_labels])
        self._subset = self._make_subset()

    # ---- shape ------------------------------------------------------------------------------
    def shape_from_free(self, free: torch.Tensor) -> torch.Tensor:
        """(1, 6) unconstrained -> phenotype in 0..1."""
        return torch.sigmoid(free)

    def default_shape(self) -> torch.Tensor:
        return torch.full((1, self.shape_size), 0.5)

    def shape_params(self, shape: torch.Tensor) -> dict:
        return {k: float(v) for k, v in zip(self.model.phenotype_labels, shape[0].tolist())}

    def _make_subset(self, stride: int = 3) -> dict[str, torch.Tensor]:
        """A sparse vertex subset for the body stage: every ``stride``-th vertex plus the
        support of the limb keypoints; keypoint rows restricted to it and renormalised (the
        face keypoints' wide supports are approximated by the subset's share)."""
        m = self.model
        keep = torch.zeros(self.vertex_count, dtype=torch.bool)
        keep[::stride] = True
        limbs = [i for i, lab in enumerate(self.kp_labels)
                 if not any(t in lab for t in ("eye", "ear", "nose"))]
        keep |= (self.kp_weights[limbs] != 0).any(0)
        idx = torch.nonzero(keep)[:, 0]
        kw = self.kp_weights[:, idx]
        kw = kw / kw.sum(1, keepdim=True).clamp_min(1e-9)
        return {"index": idx, "kp_weights": kw,
                "template": m.template_vertices[idx].float(),
                "blendshapes": m.blendshapes[:, idx].float(),
                "bone_weights": m.vertex_bone_weights[idx].float(),
                "bone_indices": m.vertex_bone_indices[idx].long()}

    def rest_state_subset(self, phenotype: torch.Tensor) -> RestState:
        """Like rest_state, with vertices only for the body-stage subset (cheaper per step)."""
        from anny.utils import kinematics
        m, sub = self.model, self._subset
        _, ph, lc, fa = m.get_tensor_inputs(None, phenotype, None, None)
        coeffs = m._get_phenotype_blendshape_coefficients(ph, lc, fa)
        verts = sub["template"][None] + torch.einsum("cpd,bc->bpd", sub["blendshapes"], coeffs)
        heads = m.template_bone_heads[None] + torch.einsum("cpd,bc->bpd",
                                                           m.bone_heads_blendshapes, coeffs)
        tails = m.template_bone_tails[None] + torch.einsum("cpd,bc->bpd",
                                                           m.bone_tails_blendshapes, coeffs)
        poses = kinematics.get_bone_poses(heads, tails, m.bone_rolls_rotmat, y_axis=m.y_axis,
                                          degenerate_rotation=m.degenerate_rotation)
        if m.root_identity_orientation:
            poses = poses.clone()
            poses[:, 0, :3, :3] = torch.eye(3)
        return RestState(verts, poses, heads, tails)

    def pose_subset(self, rest: RestState, deltas: torch.Tensor) -> torch.Tensor:
        """Posed subset vertices (S, 3), camera space, by plain-torch linear blend skinning."""
        sub = self._subset
        transforms, _ = self.model.get_bone_transforms(deltas, rest.bone_poses)
        t = transforms[0, :, :3, :].reshape(-1, 12)[sub["bone_indices"]]    # (S, k, 12)
        blend = (sub["bone_weights"][..., None] * t).sum(1).reshape(-1, 3, 4)  # (S, 3, 4)
        v = rest.vertices[0]
        return (blend[:, :, :3] @ v[:, :, None])[:, :, 0] + blend[:, :, 3]

    def keypoints_subset(self, verts: torch.Tensor) -> torch.Tensor:
        return self._subset["kp_weights"] @ verts

    def rest_state(self, phenotype: torch.Tensor) -> RestState:
        """phenotype: (1, 6) in model order, 0..1 (differentiable)."""
        m = self.model
        _, ph, lc, fa = m.get_tensor_inputs(None, phenotype, None, None)
        coeffs = m._get_phenotype_blendshape_coefficients(ph, lc, fa)
        out = m.get_rest_model(coeffs)
        return RestState(out["rest_vertices"], out["rest_bone_poses"], out["rest_bone_heads"],
                         out["rest_bone_tails"])

    def deltas(self, rest: RestState, global_rot: torch.Tensor, translation: torch.Tensor,
               bone_rotvecs: torch.Tensor) -> torch.Tensor:
        """(1, B, 4, 4) local-bone deltas. global_rot (3, 3) and translation (3,) map model space
        to camera space; bone_rotvecs (len(FIT_BONES), 3) axis-angle in each bone's rest frame."""
        b = self.bone_count
        rot = torch.eye(3).repeat(b, 1, 1)
        rot = rot.index_copy(0, self.fit_index, roma.rotvec_to_rotmat(bone_rotvecs))
        d = torch.zeros(b, 4, 4)
        d[:, :3, :3] = rot
        d[:, 3, 3] = 1.0
        g = torch.zeros(4, 4)
        g[:3, :3] = global_rot
        g[:3, 3] = translation
        g[3, 3] = 1.0
        root = g @ rest.bone_poses[0, 0]
        return torch.cat([root[None], d[1:]], dim=0)[None]

    def pose(self, rest: RestState, deltas: torch.Tensor,
             offsets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posed vertices (V, 3) and bone world poses (B, 4, 4) in camera space. offsets: (V, 3)
        rest-space displacements (clothing) skinned with the body."""
        m = self.model
        transforms, poses = m.get_bone_transforms(deltas, rest.bone_poses)
        verts = rest.vertices if offsets is None else rest.vertices + offsets[None]
        posed = m.get_skinned_vertices(bone_transforms=transforms, rest_vertices=verts)
        return posed[0], poses[0]

    def keypoints(self, verts: torch.Tensor) -> torch.Tensor:
        """(V, 3) -> (K, 3) COCO-style keypoints (labels in ``kp_labels``)."""
        return self.kp_weights @ verts

    # ---- assembly ---------------------------------------------------------------------------
    def head_height(self, rest: RestState) -> float:
        return float(rest.heads[0, self.bone_names.index("neck02"), 2])

    def root_rest_frame(self, rest: RestState) -> np.ndarray:
        return rest.bone_poses[0, 0].numpy().astype(np.float64)

    def bone_quaternions(self, rest_body, bone_rotvecs: np.ndarray) -> np.ndarray:
        """Anny's fit rotations are already Blender pose rotations (bone rest frames)."""
        quats = np.tile(np.array([1, 0, 0, 0], np.float32), (len(rest_body.bone_names), 1))
        rq = Q.from_axis_angle(np.asarray(bone_rotvecs, np.float64))
        for k, bone in enumerate(FIT_BONES):
            quats[rest_body.bone_names.index(bone)] = rq[k]
        return quats
