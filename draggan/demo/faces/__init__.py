"""Procedural cartoon faces with exact landmarks, and a landmark detector for them.

``family`` draws the faces (:func:`render`, :func:`params_from_unit`, ...);
``detector`` finds the same landmarks again in an image, including generator
output (:func:`detect_landmarks`, :func:`detect_batch`).
"""

from .detector import detect_batch, detect_landmarks
from .family import (
    FIVE_POINT,
    HAIR_STYLES,
    LANDMARK_NAMES,
    PARAM_DIM,
    PARAM_NAMES,
    FaceParams,
    landmarks_of,
    params_from_unit,
    render,
    sample_params,
)

__all__ = [
    "FIVE_POINT",
    "HAIR_STYLES",
    "LANDMARK_NAMES",
    "PARAM_DIM",
    "PARAM_NAMES",
    "FaceParams",
    "detect_batch",
    "detect_landmarks",
    "landmarks_of",
    "params_from_unit",
    "render",
    "sample_params",
]
