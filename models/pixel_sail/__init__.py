"""Pixel-SAIL (tiny) — model definition, tabletop data, training and export tooling."""
