"""bpy half of the add-on: builders, operators, panels. Imported only inside Blender."""
