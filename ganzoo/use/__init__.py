"""A trained run without training: load (networks only), sample and interpolate, export, evaluate."""
