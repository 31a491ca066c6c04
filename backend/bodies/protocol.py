"""What every body model offers (``BodyModel``) and what its fitting rig offers (``FitRig``),
plus the data both hand out. Fitting, generation, motion and the jobs use only these members,
so a new body model is one class implementing them, registered in registry.py.

This module imports nothing from its implementers (no cycles): they import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

BodyParams = Mapping[str, Any]


@dataclass
class RestBody:
    """A body in rest pose, Blender axes (Z up, -Y forward), metres, feet on z = 0."""

    vertices: np.ndarray      # (V, 3) float32
    faces: np.ndarray         # (F, 3) int32
    uvs: np.ndarray | None    # (F, 3, 2) float32 per face corner
    skin_indices: np.ndarray  # (V, k) int32
    skin_weights: np.ndarray  # (V, k) float32, rows sum to 1
    bone_names: list[str]
    parents: np.ndarray       # (B,) int32
    heads: np.ndarray         # (B, 3) float32
    tails: np.ndarray         # (B, 3) float32
    matrices: np.ndarray      # (B, 4, 4) float32 rest bone frames, Blender convention
    warnings: list[str] = field(default_factory=list)  # for the user (avatar metadata)
    metadata: dict[str, Any] = field(default_factory=dict)  # model-specific, JSON-able
    shape_keys: Any = None    # protocol.ShapeKeys on these vertices (Anny: 52 ARKit keys)
    face_rig: Any = None      # .template (V, 3) + .parts: eyes, teeth, ... (face_layers.py)


@dataclass
class RestState:
    """A fitting rig's shape-dependent rest data (torch, model space; recomputed while the
    shape is free). Rigs without bone frames (SMPL) leave bone_poses / tails empty."""

    vertices: Any      # (1, V, 3) torch rest vertices, model space (or a subset's)
    bone_poses: Any    # (1, B, 4, 4) torch rest bone frames, model space
    heads: Any         # (1, B, 3) torch
    tails: Any         # (1, B, 3) torch


@runtime_checkable
class FitRig(Protocol):
    """A body model as a differentiable function for the photo fit (backend.fit uses only
    these members). Model space is Blender's: Z up, -Y forward, +X the person's left, metres,
    feet NOT lifted to the floor; "camera space" is OpenCV's. Tensors are torch.

    Data
        name            body model name (as in the registry and avatar metadata)
        body            the BodyModel it wraps (rest_body() builds the final avatar's mesh)
        kp_labels       COCO-style keypoint names the rig regresses (landmarks.PAIRS uses
                        them; pairs whose label a rig lacks are left out of the fit)
        fit_bones       bones the fit rotates, axis-angle in each bone's rest frame (+Y along)
        twist_bones     those of them whose twist (rotation about +Y) is penalised hard
        shape_size      S, the number of shape coefficients fitted
        shape_prior_weight  (S,) weights of the Gaussian shape prior around default_shape()
        splat_spacing   metres between neighbouring fit-subset vertices (silhouette splats)
        faces           (F, 3) long tensor; mesh_faces (F, 3) int32; uvs (F, 3, 2) or None
        vertex_count    V of the full mesh
    """

    name: str
    body: BodyModel
    kp_labels: list[str]
    fit_bones: Sequence[str]
    twist_bones: Sequence[str]
    shape_size: int
    shape_prior_weight: Any
    splat_spacing: float
    faces: Any
    mesh_faces: np.ndarray
    uvs: np.ndarray | None
    vertex_count: int

    def shape_from_free(self, free: Any) -> Any:
        """(1, S) unconstrained -> (1, S) shape (Anny: sigmoid to 0..1; SMPL: betas as is)."""

    def default_shape(self) -> Any:
        """(1, S) the shape prior's centre."""

    def rest_state(self, shape: Any) -> RestState:
        """(1, S) shape -> the full mesh's RestState (differentiable)."""

    def rest_state_subset(self, shape: Any) -> RestState:
        """Like rest_state for the body stage's vertex subset (cheaper per step)."""

    def deltas(self, rest: RestState, global_rot: Any, translation: Any,
               bone_rotvecs: Any) -> Any:
        """The rig's pose object. global_rot (3, 3) and translation (3,) map model space to
        camera space; bone_rotvecs (len(fit_bones), 3)."""

    def pose(self, rest: RestState, deltas: Any, offsets: Any = None) -> tuple[Any, Any]:
        """-> (verts (V, 3) camera space, rig-specific extra); offsets (V, 3) are rest-space
        displacements skinned with the body (clothing)."""

    def pose_subset(self, rest: RestState, deltas: Any) -> Any:
        """(S', 3) posed subset vertices, camera space."""

    def keypoints(self, verts: Any) -> Any:
        """(V, 3) -> (K, 3) keypoints, labels in kp_labels."""

    def keypoints_subset(self, verts: Any) -> Any:
        """(S', 3) -> (K, 3) keypoints from the subset."""

    def shape_params(self, shape: Any) -> dict:
        """(1, S) shape -> parameters for body.rest_body() and avatar metadata."""

    def head_height(self, rest: RestState) -> float:
        """Rest z (model space, metres) above which texels belong to the head."""

    def root_rest_frame(self, rest: RestState) -> np.ndarray:
        """(4, 4) the root bone's rest frame, model space."""

    def bone_quaternions(self, rest_body: RestBody, bone_rotvecs: np.ndarray) -> np.ndarray:
        """(B, 4) w, x, y, z pose quaternions of the avatar's bones (root identity: the
        pipeline sets it from the global rotation)."""


@runtime_checkable
class BodyModel(Protocol):
    """A registered body model: parameters -> rest mesh, skeleton, skin weights and UVs; a
    pose -> posed vertices and bone transforms; named body parts; and its fitting rig."""

    name: str                                      # registry name, in hello and metadata
    label: str                                     # for people: "Anny", "SMPL-X"
    parameter_defaults: dict[str, float]
    parameter_ranges: dict[str, tuple[float, float]]

    def check_params(self, params: Mapping[str, object]) -> dict[str, Any]:
        """Defaults filled in; raises JobInputError on unknown names or bad values."""

    def rest_body(self, params: BodyParams) -> RestBody:
        """The body for ``params`` in rest pose (mesh, UVs, skeleton, skin weights)."""

    def pose_bones(self, params: BodyParams,
                   quats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 4) local pose quaternions (w, x, y, z; Blender pose bones, rest_body's bone
        order, root included) -> ((B, 4, 4) armature-space skinning transforms, (V, 3) posed
        vertices as the model itself skins them), both in rest_body's frame (feet on z = 0 at
        rest), float64."""

    def part_faces(self, labels: Sequence[str]) -> dict[str, np.ndarray]:
        """{label: (F,) bool face mask} of the model's own body-part segmentation; labels it
        has no segmentation for are left out."""

    def fit_rig(self) -> FitRig:
        """A new fitting rig (seconds to build: backend.fit.rigs caches it per rig_key())."""

    def rig_key(self) -> tuple:
        """Identifies the data a fitting rig is built from (a new key: rebuild the rig)."""
