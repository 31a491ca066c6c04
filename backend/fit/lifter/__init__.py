"""Training of the 2D->3D pose lifter (backend/fit/lifting.py runs it): synthetic data from
Anny bodies (make_data.py) and the training loop (train.py). Never needed at run time."""
