"""Rotation maths on numpy arrays (Blender ships numpy, not scipy): the one implementation
the add-on, the motion path and the server share.

Every quaternion is (..., 4) float64 in (w, x, y, z) order, the order of Blender's
``rotation_quaternion``. Functions broadcast over leading axes. Angles are radians.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12          # below this norm a quaternion counts as zero


def normalize(q: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    return q / np.maximum(n, _EPS)


def conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse of a unit quaternion."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b: rotate by b first, then by a."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def from_axis_angle(aa: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3), angle = norm in radians -> quaternions (..., 4)."""
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(x/2)/x -> 1/2 as x -> 0; the series keeps tiny angles exact.
    small = angle < 1e-8
    scale = np.where(small, 0.5 - angle ** 2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), aa * scale], axis=-1)


def to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    return q[..., 1:] * np.where(s < 1e-12, 2.0, angle / np.maximum(s, 1e-12))


def from_axis(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (...,) radians about the x, y or z axis -> (..., 4)."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(0.5 * angle)
    q[..., 1 + "xyz".index(axis.lower())] = np.sin(0.5 * angle)
    return q


def from_euler(angles: np.ndarray, order: str) -> np.ndarray:
    """Euler angles (..., k) radians about the axes named in ``order`` (e.g. "ZYX"), composed
    in that order as BVH does: R = R_order[0] @ R_order[1] @ ... (intrinsic rotations)."""
    q = from_axis(order[0], angles[..., 0])
    for i, axis in enumerate(order[1:], start=1):
        q = multiply(q, from_axis(axis, angles[..., i]))
    return q


def between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest rotation taking direction a (..., 3) onto direction b (..., 3)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), _EPS)
    d = np.sum(a * b, axis=-1, keepdims=True)
    q = np.concatenate([1.0 + d, np.cross(a, b)], axis=-1)
    # Opposite directions: turn half way round any axis perpendicular to a.
    opposite = (1.0 + d[..., 0]) < 1e-9
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.cross(a, helper)
        axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), _EPS)
        q = np.where(opposite[..., None], np.concatenate([np.zeros_like(d), axis], -1), q)
    return normalize(q)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from a to b (..., 4) at fractions t (broadcast to (..., 1)),
    along the shorter arc."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == a.ndim - 1:
        t = t[..., None]
    d = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(d < 0, -b, b)
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(theta)
    near = s < 1e-6                      # nearly equal: plain lerp is exact enough
    safe = np.where(near, 1.0, s)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (time) so consecutive quaternions lie in the same hemisphere:
    Blender interpolates each component separately, so a sign jump would swing the bone
    the long way round between two frames."""
    if q.shape[0] < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.concatenate([np.ones((1,) + dots.shape[1:]), np.where(dots < 0, -1.0, 1.0)])
    return q * np.cumprod(flips, axis=0)[..., None]


def to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3) rotation matrices.
    A zero quaternion gives the identity, as Blender's pose evaluation treats it."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def from_matrix(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.
    Shepperd's method: stable for every rotation, including half turns."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Row k is 4 q_k q; use the row with the largest |q_k| (best conditioned).
    cand = np.stack([
        np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2],
                  m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22,
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                  m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
    ], -2)                                                       # (..., 4 candidates, 4)
    best = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)
    return np.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle (radians) -> (..., 3, 3) rotation matrices."""
    return to_matrix(from_axis_angle(np.asarray(aa, dtype=np.float64)))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) axis-angle, angle in [0, pi]."""
    return to_axis_angle(from_matrix(m))
