"""Implicit differentiation of a root or fixed point (Blondel et al., "Efficient and modular
implicit differentiation", NeurIPS 2022 -- the JAXopt paper).

A solver ``x* = solver(init, *args)`` satisfies ``F(x*, *args) = 0``.  By the implicit
function theorem, with ``A = dF/dx`` and ``B = dF/dargs`` at ``(x*, args)``::

    dx*/dargs = -A^{-1} B.

Reverse mode (VJP of a cotangent ``v``): solve the adjoint system ``A^T u = v`` and return
``-u^T B`` for every argument; forward mode (JVP of tangents ``t``): solve ``A d = -B t``.
``A^T u`` is a VJP and ``A d`` a JVP of ``F`` (``torch.func``), so no Jacobian is ever
formed unless the linear solver asks for one (``solve_lu`` materialises it).  The forward
solver runs under ``torch.no_grad`` on detached arguments: the backward pass stores only
``x*`` and the arguments, whatever the number of forward iterations.

    @custom_root(F, solve=partial(solve_gmres, tol=1e-12))
    def solver(init, theta): ...          # any algorithm, any number of iterations
    x = solver(x0, theta)                 # differentiable in theta (autograd and torch.func.jvp)

Arguments: every floating-point tensor among the positional and keyword arguments (nested
in tuples, lists and dicts too) and every parameter of an ``nn.Module`` argument gets a
gradient; the module's parameters are swapped in while ``F`` is differentiated, so ``F`` may
use the module in any way.  Pitfall (as in JAXopt): tensors that ``F`` or the solver close
over instead of receiving as arguments get no gradient.  Gradients are first order (the
backward pass itself is not differentiable).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.stateless import _reparametrize_module
from torch.utils import _pytree as pytree

from .linear import LinearSolution, solve_gmres

Solve = Callable[[Callable[[Tensor], Tensor], Tensor], "LinearSolution | Tensor"]


def _solution(out: LinearSolution | Tensor) -> Tensor:
    return out.x if isinstance(out, LinearSolution) else out


class _Problem:
    """The arguments of one call, split into differentiable tensors and the rest."""

    def __init__(self, fn: Callable[..., Tensor], solve: Solve, args: tuple, kwargs: dict) -> None:
        self.fn, self.solve = fn, solve
        leaves, self.treedef = pytree.tree_flatten((args, kwargs))
        self.leaves = leaves
        self.slots: list[tuple[int, str | None]] = []  # (leaf index, parameter name or None)
        tensors: list[Tensor] = []
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, Tensor) and leaf.is_floating_point():
                self.slots.append((i, None))
                tensors.append(leaf)
            elif isinstance(leaf, nn.Module):
                for name, p in leaf.named_parameters():
                    self.slots.append((i, name))
                    tensors.append(p)
        self.tensors = tuple(tensors)

    def detached_args(self) -> tuple[tuple, dict]:
        leaves = [leaf.detach() if isinstance(leaf, Tensor) else leaf for leaf in self.leaves]
        return pytree.tree_unflatten(leaves, self.treedef)

    def F(self, x: Tensor, tensors: tuple[Tensor, ...]) -> Tensor:
        """``F(x, *args, **kwargs)`` with the differentiable tensors replaced by ``tensors``."""
        leaves = list(self.leaves)
        params: dict[int, dict[str, Tensor]] = {}
        for (i, name), t in zip(self.slots, tensors):
            if name is None:
                leaves[i] = t
            else:
                params.setdefault(i, {})[name] = t
        args, kwargs = pytree.tree_unflatten(leaves, self.treedef)
        with contextlib.ExitStack() as stack:
            for i, p in params.items():
                stack.enter_context(_reparametrize_module(self.leaves[i], p))
            return self.fn(x, *args, **kwargs)

    def vjp(self, x: Tensor, tensors: tuple[Tensor, ...], v: Tensor, needed: tuple[bool, ...]) -> list[Tensor | None]:
        """``-u^T dF/dargs`` with ``(dF/dx)^T u = v``."""
        _, vjp_x = torch.func.vjp(lambda x_: self.F(x_, tensors), x)
        u = _solution(self.solve(lambda w: vjp_x(w)[0], v))
        idx = [j for j, need in enumerate(needed) if need]
        if not idx:
            return [None] * len(tensors)
        chosen = tuple(tensors[j] for j in idx)

        def of_args(*ts: Tensor) -> Tensor:
            full = list(tensors)
            for j, t in zip(idx, ts):
                full[j] = t
            return self.F(x, tuple(full))

        _, vjp_a = torch.func.vjp(of_args, *chosen)
        grads = vjp_a(-u)
        out: list[Tensor | None] = [None] * len(tensors)
        for j, g in zip(idx, grads):
            out[j] = g
        return out

    def jvp(self, x: Tensor, tensors: tuple[Tensor, ...], tangents: tuple[Tensor | None, ...]) -> Tensor:
        """``d`` with ``(dF/dx) d = -(dF/dargs) t``."""
        pairs = [(j, t) for j, t in enumerate(tangents) if t is not None]
        if not pairs:
            return torch.zeros_like(x)
        idx = [j for j, _ in pairs]

        def of_args(*ts: Tensor) -> Tensor:
            full = list(tensors)
            for j, t in zip(idx, ts):
                full[j] = t
            return self.F(x, tuple(full))

        _, Bt = torch.func.jvp(of_args, tuple(tensors[j] for j in idx), tuple(t for _, t in pairs))
        matvec = lambda d: torch.func.jvp(lambda x_: self.F(x_, tensors), (x,), (d,))[1]
        return _solution(self.solve(matvec, -Bt))


class _ImplicitSolution(torch.autograd.Function):
    """Identity on ``x*`` whose derivatives in the arguments come from the implicit function theorem."""

    @staticmethod
    def forward(problem: _Problem, x_star: Tensor, *tensors: Tensor) -> Tensor:
        return x_star.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        problem, x_star, *tensors = inputs
        ctx.problem = problem
        ctx.save_for_backward(x_star, *tensors)
        ctx.save_for_forward(x_star, *tensors)

    @staticmethod
    def backward(ctx: Any, v: Tensor) -> tuple:
        x_star, *tensors = ctx.saved_tensors
        grads = ctx.problem.vjp(x_star.detach(), tuple(t.detach() for t in tensors), v.detach(),
                                tuple(ctx.needs_input_grad[2:]))
        return (None, None, *grads)

    @staticmethod
    def jvp(ctx: Any, _problem: Any, _dx: Tensor | None, *tangents: Tensor | None) -> Tensor:
        x_star, *tensors = ctx.saved_tensors
        return ctx.problem.jvp(x_star, tuple(tensors), tangents)


def custom_root(optimality_fn: Callable[..., Tensor], solve: Solve | None = None,
                has_aux: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``solver(init, *args, **kwargs) -> x*`` (or ``(x*, aux)`` with ``has_aux``)
    so that ``x*`` is differentiated implicitly through ``optimality_fn(x, *args, **kwargs) = 0``.

    ``solve(matvec, b)`` is the linear solver of the adjoint / tangent systems (default
    :func:`~sciml_core.implicit.linear.solve_gmres`; e.g. ``partial(solve_cg, tol=1e-12)``
    for symmetric ``dF/dx``, ``partial(solve_lu, batched=True)`` for small batched systems).
    """
    solve = solve or solve_gmres

    def decorate(solver: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(solver)
        def wrapped(init: Tensor, *args: Any, **kwargs: Any) -> Any:
            problem = _Problem(optimality_fn, solve, args, kwargs)
            d_args, d_kwargs = problem.detached_args()
            with torch.no_grad():
                out = solver(init.detach() if isinstance(init, Tensor) else init, *d_args, **d_kwargs)
            x_star, aux = out if has_aux else (out, None)
            if not isinstance(x_star, Tensor):
                raise TypeError(f"custom_root: the solver must return a tensor{' and aux' if has_aux else ''}, "
                                f"got {type(x_star).__name__}")
            x = _ImplicitSolution.apply(problem, x_star.detach(), *problem.tensors)
            return (x, aux) if has_aux else x

        return wrapped

    return decorate


def custom_fixed_point(fixed_point_fn: Callable[..., Tensor], solve: Solve | None = None,
                       has_aux: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`custom_root` for ``x* = T(x*, *args)``: the optimality condition ``T(x, ...) - x``."""

    def optimality(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return fixed_point_fn(x, *args, **kwargs) - x

    return custom_root(optimality, solve, has_aux)
