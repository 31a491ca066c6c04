"""Anny (NAVER, Apache-2.0) as a Doppel body model: 104-bone rig, UVs, phenotype parameters.

The torch model is built once per process in float32 (float64, Anny's default, is slower and
buys nothing here). Anny is already Z-up with -Y forward; we only lift it so the feet touch z=0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from rig import rotations as Q

from .base import ScalarParamsBody
from .protocol import RestBody

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
INNER_PARTS = ("eye_front.L", "eye_back.L", "eye_front.R", "eye_back.R", "tongue")


class AnnyBody(ScalarParamsBody):
    name = "anny"
    label = "Anny"
    parameter_defaults = {p: 0.5 for p in PHENOTYPES}
    parameter_ranges = {p: (0.0, 1.0) for p in PHENOTYPES}

    def __init__(self) -> None:
        import anny  # heavy import (warp, roma); only when the model is first used

        # Blender bone orientation: each rest frame has +Y from head to tail, as Blender wants.
        model = anny.Anny(rig="anny-blender", pose_parameterization="local-bone")
        self.model = model.to(dtype=torch.float32).eval()
        self.bone_names = list(model.bone_labels)
        self.parents = np.asarray(model.bone_parents, dtype=np.int32)
        faces = model.faces.cpu().numpy().astype(np.int32)
        tc, fti = model.texture_coordinates, model.face_texture_coordinate_indices
        uvs = None if tc is None or fti is None else \
            tc.cpu().numpy().astype(np.float32)[fti.cpu().numpy()]
        # Anny's own skin-textured eyeballs and tongue leave the body mesh: the face parts
        # (eye and tongue layers, anny_face_parts.py) replace them.
        from anny.face_segmentation import get_face_segmentation_mask
        inner = {k: get_face_segmentation_mask(model, [k]).cpu().numpy() for k in INNER_PARTS}
        self.eyeball_vertices = {side: np.unique(faces[inner[f"eye_front.{side}"]
                                                       | inner[f"eye_back.{side}"]])
                                 for side in "LR"}
        self._kept = ~np.logical_or.reduce(list(inner.values()))
        self.faces = np.ascontiguousarray(faces[self._kept])
        self.uvs = None if uvs is None else np.ascontiguousarray(uvs[self._kept])
        w = model.vertex_bone_weights.cpu().numpy().astype(np.float32)
        self.skin_weights = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        self.skin_indices = model.vertex_bone_indices.cpu().numpy().astype(np.int32)

    def phenotype_tensor(self, params: dict[str, float]) -> torch.Tensor:
        """(1, 6) phenotype values in the order the model expects."""
        labels = self.model.phenotype_labels
        return torch.tensor([[params.get(k, 0.5) for k in labels]], dtype=torch.float32)

    @torch.no_grad()
    def rest_body(self, params) -> RestBody:
        params = self.check_params(params)
        out = self.model(phenotype_kwargs=params)
        verts = out["rest_vertices"][0].numpy().astype(np.float32)
        heads = out["rest_bone_heads"][0].numpy().astype(np.float32)
        tails = out["rest_bone_tails"][0].numpy().astype(np.float32)
        mats = out["rest_bone_poses"][0].numpy().astype(np.float32)
        lift = np.array([0.0, 0.0, -verts[:, 2].min()], dtype=np.float32)
        mats = mats.copy()
        mats[:, :3, 3] += lift
        return RestBody(vertices=verts + lift, faces=self.faces, uvs=self.uvs,
                        skin_indices=self.skin_indices, skin_weights=self.skin_weights,
                        bone_names=self.bone_names, parents=self.parents,
                        heads=heads + lift, tails=tails + lift, matrices=mats,
                        shape_keys=self.face_keys(verts), face_rig=self.face_rig())

    def face_rig(self):
        """Eyes, lashes, brows, teeth, tongue on the template (anny_face_parts.py), built once."""
        if getattr(self, "_face_rig", None) is None:
            from .anny_face_parts import FaceRig, build_face_parts
            template = self.model.template_vertices.detach().double().cpu().numpy()
            idx = self.model.base_mesh_vertex_indices.cpu().numpy()
            self._face_rig = FaceRig(template, build_face_parts(template, self.faces, idx,
                                                                self.eyeball_vertices))
        return self._face_rig

    def face_keys(self, rest_vertices: np.ndarray):
        """The 52 ARKit shape keys at this body's shape (anny_face.py says how)."""
        from .anny_face import face_shape_keys, template_deltas
        deltas = template_deltas(tuple(self.model.base_mesh_vertex_indices.tolist()))
        template = self.model.template_vertices.detach().double().cpu().numpy()
        return face_shape_keys(template, rest_vertices.astype(np.float64), deltas)

    @torch.no_grad()
    def pose_bones(self, params, quats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 4) local quaternions (w, x, y, z) -> ((B, 4, 4) skinning transforms, (V, 3)
        vertices as Anny skins them), float64, rest_body's frame (feet on z = 0 at rest)."""
        params = self.check_params(params)
        mats = Q.to_matrix(np.asarray(quats, np.float64))
        rest = self.model(phenotype_kwargs=params)
        rest_poses = rest["rest_bone_poses"][0].double()
        local = torch.eye(4, dtype=torch.float64).repeat(len(mats), 1, 1)
        local[:, :3, :3] = torch.from_numpy(mats)
        local[0] = rest_poses[0] @ local[0]          # the root's parameter is its world pose
        out = self.model(pose_parameters=local[None].to(torch.float32), phenotype_kwargs=params)
        posed = out["bone_poses"][0].double()
        transforms = (posed @ torch.linalg.inv(rest_poses)).numpy()
        lift = -float(rest["rest_vertices"][0, :, 2].min())
        body = out["vertices"][0].double().numpy() + np.array([0, 0, lift])
        shift = np.eye(4)
        shift[2, 3] = lift
        # conjugate by the lift: Anny works with the feet below z = 0
        return shift @ transforms @ np.linalg.inv(shift), body

    def part_faces(self, labels: Sequence[str]) -> dict[str, np.ndarray]:
        """{label: (F,) bool} from Anny's UV-based body_parts_segmentation (e.g. "head",
        "hand.L", "eye_cavity.R", "tongue"); unknown labels are left out."""
        from anny.face_segmentation import get_face_segmentation_mask
        out = {}
        for label in labels:
            try:
                mask = get_face_segmentation_mask(self.model, [label]).cpu().numpy()
                out[label] = mask[self._kept]       # on self.faces (eyeballs, tongue left out)
            except (KeyError, ValueError):
                continue
        return out

    def fit_rig(self):
        from .anny_fit import AnnyFitRig     # anny.keypoints, roma: only for fitting
        return AnnyFitRig(self)

    def rig_key(self) -> tuple:
        return (self.name,)     # one Anny per install: its rig never goes stale
