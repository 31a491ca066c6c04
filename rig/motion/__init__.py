"""Motion clips onto Doppel avatars, bpy-free and numpy-only (Blender has no scipy).

``prepare_clip(path, skeleton, fps)`` reads an AMASS/SMPL ``.npz`` or a BVH file, resamples it
time-exactly to ``fps`` and retargets it onto the avatar's skeleton, giving per-frame
``pose_bone.rotation_quaternion`` values and the root bone's location (or, with
``root_motion="object"``, the armature object's travel), with the feet on the floor. An
AMASS/SMPL clip on a SMPL-family avatar skips retargeting: its joint rotations apply
directly. Bad input raises ``MotionError`` with a sentence for the user.
"""

from .clip_body import clip_body_job, read_clip_body
from .clip import MOTION_SUFFIXES, RetargetedClip, load_motion, prepare_clip
from .direct import can_apply_directly, is_smpl_rig, locals_to_pose
from .errors import MotionError
from .feet import FootPoints, sole_points_from_mesh
from .resample import output_frame_count, resample
from .root_path import ROOT_MOTIONS
from .source import SourceMotion, SourceSkeleton, world_transforms

__all__ = ["FootPoints", "MOTION_SUFFIXES", "MotionError", "ROOT_MOTIONS", "RetargetedClip",
           "SourceMotion", "SourceSkeleton", "can_apply_directly", "clip_body_job",
           "is_smpl_rig", "load_motion", "locals_to_pose", "output_frame_count", "prepare_clip",
           "read_clip_body", "resample", "sole_points_from_mesh", "world_transforms"]
