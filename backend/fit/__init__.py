"""Fitting a body model to a photo: silhouettes, landmarks, clothing offsets, the pipeline."""
