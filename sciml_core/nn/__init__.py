"""Shared neural-network blocks and derivative engines for PINNs.

Networks (:class:`MLP`, :class:`ModifiedMLP`) and embeddings (:class:`FourierFeatures`,
:class:`PeriodicEmbedding`) act on tensors and on Taylor :class:`Jet` s, which gives the
forward-mode engine :class:`JetDerivatives`; :class:`AutogradDerivatives` is the reverse-mode
one.  The jet rules run as tensor operations (:mod:`.jet_rules`) or, on CPU with numba, as
compiled kernels (:mod:`.jet_kernels`); :func:`.jet.use_compiled` chooses.
"""

from . import jet_kernels, jet_rules
from .derivatives import AutogradDerivatives, JetDerivatives, required_orders
from .jet import Jet, input_jet
from .layers import Act, Dense, FourierFeatures, PeriodicEmbedding
from .mlp import MLP, ModifiedMLP

__all__ = ["MLP", "Act", "AutogradDerivatives", "Dense", "FourierFeatures", "Jet", "JetDerivatives", "ModifiedMLP",
           "PeriodicEmbedding", "input_jet", "jet_kernels", "jet_rules", "required_orders"]
