"""Which detector landmark matches which Anny keypoint, and how much we trust each pairing.

MediaPipe's hips sit higher and wider than anatomical hip joints and its ears/eyes are tiny
targets, so they get lower weights than the limb joints.
"""

from __future__ import annotations

# (MediaPipe landmark index, Anny COCO keypoint label, weight)
PAIRS = (
    (0, "nose", 0.5), (2, "left_eye", 0.3), (5, "right_eye", 0.3),
    (7, "left_ear", 0.5), (8, "right_ear", 0.5),
    (11, "left_shoulder", 1.0), (12, "right_shoulder", 1.0),
    (13, "left_elbow", 1.0), (14, "right_elbow", 1.0),
    (15, "left_wrist", 1.0), (16, "right_wrist", 1.0),
    (23, "left_hip", 0.7), (24, "right_hip", 0.7),
    (25, "left_knee", 1.0), (26, "right_knee", 1.0),
    (27, "left_ankle", 1.0), (28, "right_ankle", 1.0),
    (29, "left_heel", 0.5), (30, "right_heel", 0.5),
    (31, "left_big_toe", 0.5), (32, "right_big_toe", 0.5),
)

# Limb segments whose 3D direction MediaPipe's world landmarks constrain: (from, to) indices
# into PAIRS' order of MediaPipe landmarks.
SEGMENTS = (
    (11, 13), (13, 15), (12, 14), (14, 16),           # arms
    (23, 25), (25, 27), (24, 26), (26, 28),           # legs
    (11, 12), (23, 24),                               # shoulder and hip lines
    (27, 31), (28, 32),                               # feet
)
