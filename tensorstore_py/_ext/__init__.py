"""Compiled Cython kernels; their sources are in the repository _ext/ folder."""
