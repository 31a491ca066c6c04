"""bpy-free half of the add-on: data conversion and maths, tested with plain pytest."""
