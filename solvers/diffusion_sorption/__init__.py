"""Finite-volume reference of PDEBench's 1D diffusion-sorption: ``fv-diffusion-sorption``."""

from __future__ import annotations

from .reference import DiffusionSorptionConfig, DiffusionSorptionFV, fv_jacobian, fv_rhs

__all__ = ["DiffusionSorptionConfig", "DiffusionSorptionFV", "fv_jacobian", "fv_rhs"]
