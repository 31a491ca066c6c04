"""The lifter's input and output encodings, shared by training (torch) and inference (numpy).

Input, per keypoint of landmarks.PAIRS: its camera ray (x/f, y/f) minus the hips' ray, divided
by the keypoints' RMS spread about the hips (so neither the person's size nor distance
matters), and its visibility; then the hips' ray itself (where in the frame the person
stands: the perspective cue). Output: keypoints minus the hips, camera frame, divided by
(hip depth x the same spread), i.e. in the units of the input: x/y are about the input's, z
is what the lifter adds.
"""

from __future__ import annotations

import numpy as np

HIPS = (11, 12)          # rows of the left/right hip in landmarks.PAIRS


def encode(rays, vis):
    """rays (N, K, 2), vis (N, K) -> features (N, 3K + 2) and the spread (N,). numpy or torch."""
    lib = np if isinstance(rays, np.ndarray) else _torch()
    centre = 0.5 * (rays[:, HIPS[0]] + rays[:, HIPS[1]])
    rel = rays - centre[:, None]
    spread = lib.sqrt((rel ** 2).sum(-1).mean(-1)) + 1e-6
    rel = rel / spread[:, None, None]
    feats = lib.concatenate([rel.reshape(len(rays), -1), vis, centre], 1) if lib is np else \
        lib.cat([rel.reshape(len(rays), -1), vis, centre], 1)
    return feats, spread


def _torch():
    import torch
    return torch
