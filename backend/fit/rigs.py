"""What the photo fit needs from a body model, and which fitting rig serves which body model.

A fitting rig wraps one registered body model (backend.bodies) as a differentiable function for
the fit. Every rig offers the same members (Anny's is rig.FitRig, the SMPL family's is
smpl_rig.SMPLFitRig); the pipeline, body_fit.py and clothing.py use only these:

Data
    name            body model name (as in the registry and avatar metadata)
    body            the registry's BodyModel (rest_body() builds the final avatar's rest mesh)
    kp_labels       COCO-style keypoint names the rig regresses (landmarks.PAIRS uses them;
                    pairs whose label a rig lacks are left out of the fit)
    fit_bones       bones the fit rotates, axis-angle in each bone's rest frame (+Y along it)
    twist_bones     those of them whose twist (rotation about +Y) is penalised hard
    shape_size      S, the number of shape coefficients fitted
    shape_prior_weight  (S,) weights of the Gaussian shape prior around ``default_shape``
    splat_spacing   metres between neighbouring fit-subset vertices (soft-silhouette splat size)
    faces           (F, 3) long tensor; mesh_faces (F, 3) int32; uvs (F, 3, 2) float32 or None
    vertex_count    V of the full mesh

Functions (torch, differentiable; model space is Blender's: Z up, -Y forward, +X the person's
left, metres, feet NOT lifted to the floor; "camera space" is OpenCV's)
    shape_from_free(free (1, S)) -> (1, S) shape     (Anny: sigmoid to 0..1; SMPL: betas as is)
    default_shape() -> (1, S)
    rest_state(shape) / rest_state_subset(shape) -> RestState (heads: (1, B, 3) model space)
    deltas(rest, global_rot (3, 3), translation (3,), bone_rotvecs (len(fit_bones), 3)) -> the
        rig's pose object (global_rot and translation map model space to camera space)
    pose(rest, deltas, offsets=None) -> (verts (V, 3) camera space, rig-specific extra);
        offsets (V, 3) are rest-space displacements skinned with the body (clothing)
    pose_subset(rest, deltas) -> (S', 3); keypoints(verts) / keypoints_subset(verts) -> (K, 3)

Assembly (numpy)
    shape_params(shape) -> dict for body.rest_body() and avatar metadata
    head_height(rest) -> rest z (model space) above which texels belong to the head
    root_rest_frame(rest) -> (4, 4) the root bone's rest frame, model space
    bone_quaternions(rest_body, bone_rotvecs) -> (B, 4) w, x, y, z pose quaternions of the
        avatar's bones (root identity: the pipeline sets it from the global rotation)
"""

from __future__ import annotations

import threading
from typing import Any

from ..bodies import get_body_model
from ..bodies.base import unavailable_reason

_RIGS: dict[tuple, Any] = {}
_EDGES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def fit_rig(body_model: str = "anny"):
    """The process-wide fitting rig for ``body_model`` (built once per model file: Anny's takes
    seconds). Raises JobInputError when the model is unknown or its files are absent."""
    from .clothing import mesh_edges
    body = get_body_model(body_model)      # the registry's clear error for absent files
    key = _key(body_model, body)
    with _LOCK:
        if key not in _RIGS:
            if body_model == "anny":
                from .rig import FitRig
                rig = FitRig(body)
            else:
                from .smpl_rig import SMPLFitRig
                rig = SMPLFitRig(body)
            _RIGS[key] = rig
            _EDGES[key] = mesh_edges(rig.mesh_faces)
        return _RIGS[key], _EDGES[key]


def _key(name: str, body) -> tuple:
    """Anny: its name. SMPL family: the model file in use (and its mtime), so a user who swaps
    files while the server runs gets a rig for the new ones."""
    if name == "anny" or unavailable_reason(name) is not None:
        return (name,)
    from ..bodies.smpl_files import available_genders, find_model_file
    path = find_model_file(name, available_genders(name)[0])
    return (name, str(path), path.stat().st_mtime)
