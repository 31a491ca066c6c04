"""The rig core: bone maths, forward kinematics, skinning and the motion path, numpy only.

Both the server (backend/) and the Blender add-on import it; build_addon.py vendors it into
the extension zip exactly as it does ``protocol``. It imports nothing of ours and never bpy,
scipy or torch (Blender's Python has numpy alone); import-linter checks that.

- ``rotations``  quaternions (w, x, y, z), matrices, axis-angle, Euler
- ``bone_frames`` Blender's head/tail/roll bone frames
- ``kinematics`` forward kinematics as Blender's pose evaluates it
- ``skinning``   linear blend skinning, top-k skin weights
- ``ik``         two-bone IK (planting feet)
- ``motion``     AMASS/SMPL and BVH readers, resampling, retargeting, grounding, SMPL pose
                 transfer
"""

from . import bone_frames, ik, kinematics, motion, rotations, skinning

__all__ = ["bone_frames", "ik", "kinematics", "motion", "rotations", "skinning"]
