"""An SMPL-family model (smpl / smplh / smplx, from the user's files) as a fitting rig: betas,
global pose and body-joint rotations -> posed vertices and keypoints in the photo's camera frame.

Implements protocol.FitRig, as Anny's rig does. The forward pass is smplx's linear blend skinning
(smplx.lbs building blocks: shape blend shapes, pose correctives, rigid joint transforms) in
SMPL's native axes (Y up), turned into Blender's model axes (Z up, -Y forward) by
SMPL_TO_BLENDER, then placed in the camera by the fit's global rotation and translation. The
root joint stays unrotated: the global rotation carries the body's orientation.

Bone rotations are fitted as axis-angles in the rest frames of the template's Blender bones
(smpl_skeleton.py, +Y along the bone), so the twist prior means "about the limb". At the end
they are re-expressed in the frames of the fitted body's bones (``bone_quaternions``).

Keypoints: the SMPL joints for shoulders, elbows, wrists, hips, knees and ankles (J_regressor
rows, applied to the posed mesh as the joints' vertex rings move with them); nose, eyes, ears,
big toes and heels from smplx's published vertex ids when the mesh has the official topology.
Other meshes (a converted or procedural body) get nose, ears, toes and heels picked from the
rest template's geometry instead (``_landmark_vertices``): without them nothing but the
silhouette holds the head, which then tips back unseen by the camera.
"""

from __future__ import annotations

import numpy as np
import torch

from rig import rotations as Q

from .protocol import RestState
from .smpl_files import VERTEX_ID_TOPOLOGY, available_genders
from .smpl_skeleton import SMPL_TO_BLENDER, bone_tails, joint_names, rest_frames

FIT_JOINTS = (
    "spine1", "spine2", "spine3", "neck", "head",
    "left_collar", "left_shoulder", "left_elbow", "left_wrist",
    "right_collar", "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle",
    "right_hip", "right_knee", "right_ankle",
)
TWIST_JOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                "left_hip", "right_hip", "left_knee", "right_knee")
# COCO-style keypoint label -> SMPL joint (read off the posed mesh by J_regressor's row).
JOINT_KEYPOINTS = {f"{side}_{j}": f"{side}_{j}" for side in ("left", "right")
                   for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
# COCO-style label -> smplx.vertex_ids name, for meshes with the official topology.
VERTEX_KEYPOINTS = {"nose": "nose", "left_eye": "leye", "right_eye": "reye",
                    "left_ear": "lear", "right_ear": "rear", "left_big_toe": "LBigToe",
                    "right_big_toe": "RBigToe", "left_heel": "LHeel", "right_heel": "RHeel"}
OFFICIAL_VERTEX_COUNT = {"smplh": 6890, "smplx": 10475}   # per smplx.vertex_ids topology
SHAPE_SIZE = 10            # betas fitted: the first ten carry nearly all of the body's shape
BETA_PRIOR = 0.2           # Gaussian prior weight per beta (betas are in standard deviations)
BETA_LIMIT = 5.0           # the body registry's range


class SMPLFitRig:
    """Holds one SMPL-family module's buffers (float32), takes every parameter per call.
    Implements protocol.FitRig."""

    fit_bones = FIT_JOINTS
    twist_bones = TWIST_JOINTS

    def __init__(self, body) -> None:
        self.body = body
        self.name = body.name
        self.gender = available_genders(body.model)[0]
        m = body.module(self.gender)
        self.v_template = m.v_template.detach().float()                   # (V, 3) native
        self.shape_size = min(SHAPE_SIZE, int(m.num_betas))
        self.shapedirs = m.shapedirs.detach().float()[:, :, :self.shape_size]  # (V, 3, S)
        posedirs = m.posedirs.detach().float()                            # (P, V * 3)
        self.posedirs = posedirs if bool(posedirs.abs().max() > 0) else None
        self.j_regressor = m.J_regressor.detach().float()                 # (J, V)
        self.parents = m.parents.detach().long()
        self.lbs_weights = m.lbs_weights.detach().float()                 # (V, J)
        self.vertex_count = int(self.v_template.shape[0])
        self.joint_names = joint_names(body.model, int(self.j_regressor.shape[0]))
        self.to_blender = torch.from_numpy(SMPL_TO_BLENDER).float()

        template = body.rest_body({"gender": self.gender})
        self.mesh_faces = template.faces
        self.faces = torch.as_tensor(template.faces, dtype=torch.long)
        self.uvs = template.uvs
        self.bone_names = list(template.bone_names)
        # Fitted axis-angles live in the template's bone frames C0: native rotvec = A^T C0 rv.
        self.frames0 = template.matrices[:, :3, :3].astype(np.float64)   # (J, 3, 3)
        self.fit_index = torch.tensor([self.joint_names.index(n) for n in FIT_JOINTS])
        frames = torch.from_numpy(self.frames0[self.fit_index.numpy()]).float()
        self.rotvec_to_native = self.to_blender.T @ frames                # (len(FIT), 3, 3)
        self.shape_prior_weight = torch.full((self.shape_size,), BETA_PRIOR)
        self.kp_labels, self.kp_weights = self._keypoint_regressor()
        self.splat_spacing = _median_edge(self.v_template.numpy(), template.faces)

    def _keypoint_regressor(self) -> tuple[list[str], torch.Tensor]:
        from smplx.vertex_ids import vertex_ids
        labels, rows = [], []
        for label, joint in JOINT_KEYPOINTS.items():
            labels.append(label)
            rows.append(self.j_regressor[self.joint_names.index(joint)])
        topology = VERTEX_ID_TOPOLOGY[self.body.model]
        if self.vertex_count == OFFICIAL_VERTEX_COUNT[topology]:
            picks = {label: vertex_ids[topology][vid] for label, vid in VERTEX_KEYPOINTS.items()}
        else:
            picks = _landmark_vertices(self.v_template.numpy() @ SMPL_TO_BLENDER.T,
                                       self.lbs_weights.numpy(), self.joint_names)
        for label, vid in picks.items():
            row = torch.zeros(self.vertex_count)
            row[vid] = 1.0
            labels.append(label)
            rows.append(row)
        return labels, torch.stack(rows)

    # ---- shape ------------------------------------------------------------------------------
    def shape_from_free(self, free: torch.Tensor) -> torch.Tensor:
        return free

    def default_shape(self) -> torch.Tensor:
        return torch.zeros(1, self.shape_size)

    def shape_params(self, shape: torch.Tensor) -> dict:
        betas = np.clip(shape[0].detach().numpy().astype(np.float64), -BETA_LIMIT, BETA_LIMIT)
        return {"gender": self.gender, "betas": [float(b) for b in betas]}

    # ---- forward ----------------------------------------------------------------------------
    def rest_state(self, shape: torch.Tensor) -> RestState:
        """shape: (1, S) betas. Vertices and joint heads in Blender model axes."""
        v = self.v_template + torch.einsum("vds,s->vd", self.shapedirs, shape[0])
        j = self.j_regressor @ v
        a = self.to_blender
        empty = torch.zeros(0)
        return RestState((v @ a.T)[None], empty, (j @ a.T)[None], empty)

    rest_state_subset = rest_state      # SMPL meshes are small enough to fit whole

    def deltas(self, rest: RestState, global_rot: torch.Tensor, translation: torch.Tensor,
               bone_rotvecs: torch.Tensor):
        """-> ((J, 3) native local axis-angles, root zero; global_rot; translation)."""
        native = (self.rotvec_to_native @ bone_rotvecs[:, :, None])[:, :, 0]
        aa = torch.zeros(len(self.joint_names), 3).index_copy(0, self.fit_index, native)
        return aa, global_rot, translation

    def pose(self, rest: RestState, deltas, offsets: torch.Tensor | None = None):
        """Posed vertices (V, 3) and joints (J, 3), camera space. offsets: (V, 3) rest-space
        (Blender axes) displacements skinned with the body; they do not move the joints."""
        from smplx.lbs import batch_rigid_transform, batch_rodrigues
        aa, g, t = deltas
        a = self.to_blender
        verts = rest.vertices[0] if offsets is None else rest.vertices[0] + offsets
        v = verts @ a                                                     # native axes
        rot = batch_rodrigues(aa)                                         # (J, 3, 3)
        if self.posedirs is not None:
            feature = (rot[1:] - torch.eye(3)).reshape(1, -1)
            v = v + (feature @ self.posedirs).reshape(-1, 3)
        joints, rel = batch_rigid_transform(rot[None], (rest.heads[0] @ a)[None], self.parents,
                                            dtype=torch.float32)
        skin = (self.lbs_weights @ rel[0].reshape(-1, 16)).reshape(-1, 4, 4)   # (V, 4, 4)
        posed = (skin[:, :3, :3] @ v[:, :, None])[:, :, 0] + skin[:, :3, 3]
        to_cam = g @ a                                                    # native -> camera
        return posed @ to_cam.T + t, joints[0] @ to_cam.T + t

    def pose_subset(self, rest: RestState, deltas) -> torch.Tensor:
        return self.pose(rest, deltas)[0]

    def keypoints(self, verts: torch.Tensor) -> torch.Tensor:
        """(V, 3) -> (K, 3) keypoints (labels in ``kp_labels``)."""
        return self.kp_weights @ verts

    keypoints_subset = keypoints

    # ---- assembly ---------------------------------------------------------------------------
    def head_height(self, rest: RestState) -> float:
        return float(rest.heads[0, self.joint_names.index("head"), 2])

    def root_rest_frame(self, rest: RestState) -> np.ndarray:
        """The pelvis bone's rest frame as smpl_skeleton builds it for these joints."""
        heads = rest.heads[0].detach().numpy().astype(np.float64)
        tails = bone_tails(self.joint_names, self.parents.numpy(), heads)
        return rest_frames(heads, tails)[0]

    def bone_quaternions(self, rest_body, bone_rotvecs: np.ndarray) -> np.ndarray:
        """Fitted rotations (template frames C0) -> pose quaternions in the fitted body's bone
        frames C: B = C^T (C0 R C0^T) C keeps every bone's world rotation."""
        quats = np.tile(np.array([1, 0, 0, 0], np.float32), (len(rest_body.bone_names), 1))
        rots = Q.axis_angle_to_matrix(np.asarray(bone_rotvecs, np.float64))
        frames = rest_body.matrices[:, :3, :3].astype(np.float64)
        for k, name in enumerate(FIT_JOINTS):
            j = self.joint_names.index(name)
            b = rest_body.bone_names.index(name)
            local = self.frames0[j] @ rots[k] @ self.frames0[j].T
            basis = frames[b].T @ local @ frames[b]
            quats[b] = Q.from_matrix(basis)
        return quats


def _landmark_vertices(verts: np.ndarray, weights: np.ndarray,
                       names: list[str]) -> dict[str, int]:
    """Keypoint vertices of a mesh without smplx's vertex ids, from its rest geometry (Blender
    axes: -Y forward, +X the body's left): nose = the head's most forward vertex, ears = its
    widest; on each foot's sole, big toe = most forward, heel = most backward vertex."""
    owner = weights.argmax(axis=1)
    out = {}
    head = np.isin(owner, [names.index(n) for n in ("head", "jaw") if n in names])
    if head.any():
        idx = np.flatnonzero(head)
        out["nose"] = int(idx[np.argmin(verts[idx, 1])])
        out["left_ear"] = int(idx[np.argmax(verts[idx, 0])])
        out["right_ear"] = int(idx[np.argmin(verts[idx, 0])])
    for side in ("left", "right"):
        foot = np.isin(owner, [names.index(f"{side}_ankle"), names.index(f"{side}_foot")])
        if not foot.any():
            continue
        idx = np.flatnonzero(foot)
        sole = idx[verts[idx, 2] < verts[idx, 2].min() + 0.03]
        out[f"{side}_big_toe"] = int(sole[np.argmin(verts[sole, 1])])
        out[f"{side}_heel"] = int(sole[np.argmax(verts[sole, 1])])
    return out


def _median_edge(verts: np.ndarray, faces: np.ndarray) -> float:
    """Median mesh edge length (metres), kept within a sane splat size."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    lengths = np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1)
    return float(np.clip(np.median(lengths), 0.01, 0.05))
