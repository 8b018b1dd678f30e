"""Geometry kernels that every layer above may use: box formats, areas and IoU."""
