"""The garment template library both producers use: where things are on a body
(body_regions), garments that follow the skin (shells), garments that hang (drape: skirts,
dresses, long hair), the wardrobe of styles built from them, procedural fabrics, and the step
from garment pieces to protocol mesh layers (layers). `generate` picks garments from a seed;
reconstruction fits their parameters to a photo."""
