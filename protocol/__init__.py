"""Doppel's wire protocol and avatar format: pure Python + numpy, so it runs inside Blender.

Import what you need from here; the submodules are the implementation.
"""

from .avatar import (FACE_ROLES, LAYER_MATERIALS, LAYER_ROLES, Camera, MeshLayer, Pose,
                     RiggedAvatar, ShapeKeys, Skeleton, SurfaceBinding, validate_avatar)
from .avatar_codec import (FILE_SUFFIX, avatar_from_bytes, avatar_from_message,
                           avatar_from_parts, avatar_message, avatar_to_parts, load_avatar,
                           save_avatar)
from .codec import Message, decode, encode
from .constants import (DEFAULT_ADDRESS, JOB_STATES, PROTOCOL_VERSION, SUPPORTED_VERSIONS,
                        ErrorCode)
from .errors import ProtocolError
from .messages import error_message, validate_reply, validate_request
from .names import inside, safe_child, safe_stem

__all__ = [
    "FACE_ROLES", "LAYER_MATERIALS", "LAYER_ROLES", "Camera", "MeshLayer", "Pose", "RiggedAvatar", "ShapeKeys",
    "Skeleton",
    "SurfaceBinding",
    "validate_avatar",
    "FILE_SUFFIX", "avatar_from_bytes", "avatar_from_message", "avatar_from_parts",
    "avatar_message", "avatar_to_parts", "load_avatar", "save_avatar",
    "Message", "decode", "encode",
    "DEFAULT_ADDRESS", "JOB_STATES", "PROTOCOL_VERSION", "SUPPORTED_VERSIONS", "ErrorCode",
    "ProtocolError", "error_message", "validate_reply", "validate_request",
    "inside", "safe_child", "safe_stem",
]
