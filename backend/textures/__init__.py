"""Texture images made on the server (procedural skin, baked photo textures)."""
