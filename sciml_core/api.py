"""``sciml_core.solve``: one entry point that drives every registered solver.

    result = solve("burgers", solver="pinn", preset="default", out="runs/b1")
    result.metrics["rel_l2"], result.solution["u"], result.run_dir

Presets: a name is looked up among the solver's presets (``quick``, ``default``,
``paper``, ...) and then among the PDE's (literature regimes such as ``stable-spiral``).
Overrides (``--set``): keys under ``pde.`` set PDE parameters, every other key the solver's
config (``train.lr=1e-3``, ``model.width=64``).  A config file has the layout of a run's
``config.toml`` (top-level ``pde``, ``solver``, ``preset``, ``seed``, ``device``, ``dtype``
and the tables ``[pde_params]`` and ``[config]``), so any run can be repeated from its file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .config import build_config, deep_merge, dumps_toml, parse_overrides, read_toml, to_dict
from .device import dtype_name, resolve_device, resolve_dtype
from .errors import CheckpointError, ConfigError
from .metrics import solution_rel_l2
from .pdes.base import PDE
from .registry import get_pde, get_solver, unknown_name_error
from .run import RunDirectory
from .solver import Result, RunContext, Solver
from .train import distributed

CONFIG_FILE_KEYS = ("pde", "solver", "preset", "seed", "device", "dtype", "budget_s", "pde_params", "config")


def read_run_config(path: str | Path) -> dict[str, Any]:
    """Read a config file in the run ``config.toml`` layout, rejecting unknown top-level keys."""
    data = read_toml(path)
    unknown = sorted(set(data) - set(CONFIG_FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"config file {str(path)!r}: unknown key {unknown[0]!r} (valid: {', '.join(CONFIG_FILE_KEYS)})"
        )
    return data


def resolve_preset(solver_cls: type[Solver], pde_cls: type[PDE], preset: str | None) -> tuple[str, str | None]:
    """Return (solver preset, PDE preset or None) for a preset name."""
    if preset is None:
        return "default", None
    in_solver, in_pde = preset in solver_cls.presets, preset in pde_cls.presets
    if in_solver and in_pde:
        raise ConfigError(f"preset {preset!r} is ambiguous: both solver {solver_cls.name!r} and PDE {pde_cls.name!r} define it")
    if in_solver:
        return preset, None
    if in_pde:
        return "default", preset
    raise unknown_name_error(
        f"preset for {pde_cls.name} / {solver_cls.name}", preset, [*solver_cls.presets, *pde_cls.presets]
    )


def _version() -> str:
    from . import __version__

    return __version__


def solve(
    pde: str | PDE | type[PDE] | None = None,
    solver: str | type[Solver] | None = None,
    *,
    config: str | Path | Mapping[str, Any] | None = None,
    preset: str | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    out: str | Path | None = None,
    device: str = "auto",
    dtype: str | None = None,
    seed: int | None = None,
    budget_s: float | None = None,
    resume: bool = False,
    force: bool = False,
    data: str | Path | None = None,
    progress: bool = True,
) -> Result:
    """Solve ``pde`` with ``solver``; write the run directory when ``out`` is given.

    ``config`` is a path to a config file or a dict in the same layout; ``overrides`` a list
    of ``key=value`` strings or a nested dict; explicit arguments win over the file.
    """
    file_cfg: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        file_cfg = read_run_config(config)
    elif config is not None:
        file_cfg = dict(config)
    pde = pde if pde is not None else file_cfg.get("pde")
    solver = solver if solver is not None else file_cfg.get("solver")
    if pde is None or solver is None:
        raise ConfigError("name a PDE and a --solver (or give a --config file that names them)")
    solver_cls = get_solver(solver)
    pde_cls = type(pde) if isinstance(pde, PDE) else get_pde(pde)
    preset = preset if preset is not None else file_cfg.get("preset")
    solver_preset, pde_preset = resolve_preset(solver_cls, pde_cls, preset)

    extra = parse_overrides(list(overrides)) if not isinstance(overrides, Mapping) else dict(overrides)
    pde_overrides = extra.pop("pde", {})
    if not isinstance(pde_overrides, dict):
        raise ConfigError("--set pde=... must name a parameter, e.g. pde.nu=0.01")
    if isinstance(pde, PDE):
        pde_obj = pde.replace(**pde_overrides) if pde_overrides else pde
    else:
        pde_obj = pde_cls.from_params(deep_merge(file_cfg.get("pde_params", {}), pde_overrides), preset=pde_preset)
    if not solver_cls.supports(pde_obj):
        raise ConfigError(
            f"solver {solver_cls.name!r} does not support PDE {pde_obj.name!r} "
            f"(it supports: {', '.join(solver_cls.pdes) or 'PDEs with the hooks it needs'})"
        )
    preset_cfg = solver_cls.preset_config(solver_preset, pde_obj.name)
    cfg_dict = deep_merge(deep_merge(preset_cfg, file_cfg.get("config", {})), extra)
    cfg = build_config(solver_cls.Config, cfg_dict)

    seed = int(seed if seed is not None else file_cfg.get("seed", 0))
    device_obj = resolve_device(device if device != "auto" or "device" not in file_cfg else file_cfg["device"])
    device_obj = distributed.init(device_obj)  # under torchrun: join the ranks' process group, a GPU each
    ranks = distributed.world_size()
    if ranks > 1 and solver_cls.kind == "reference":
        raise ConfigError(f"solver {solver_cls.name!r} is a numerical reference: it runs in one process (batched "
                          "on a GPU when there is one); use one rank, or 'sciml data generate --workers/--scheduler' "
                          "for many samples")
    default_dtype = "float64" if solver_cls.kind == "reference" else "float32"
    dtype_obj = resolve_dtype(dtype or file_cfg.get("dtype", default_dtype))
    resolved = {
        "pde": pde_obj.name, "solver": solver_cls.name, "preset": preset or "default", "seed": seed,
        "device": str(device_obj), "dtype": dtype_name(dtype_obj), "budget_s": budget_s,
        "pde_params": pde_obj.params(), "config": to_dict(cfg),
    }

    def open_run() -> RunDirectory | None:
        run = RunDirectory(out, resume=resume, force=force) if out is not None else None
        if resume and (run is None or not run.checkpoint.exists()):
            where = str(run.checkpoint) if run is not None else "(no --out given)"
            raise CheckpointError(f"--resume: no checkpoint to resume from at {where!r}")
        if run is not None:
            run.write_config(dumps_toml(resolved))
        return run

    run = distributed.on_main(open_run)  # rank 0 alone writes the run directory
    torch.manual_seed(seed)
    context = RunContext(device=device_obj, dtype=dtype_obj, seed=seed, budget_s=budget_s, resume=resume,
                         data=Path(data) if data is not None else None, run=run,
                         progress=progress and distributed.is_main())
    start = time.perf_counter()
    output = solver_cls(pde_obj, cfg, context).run()
    wall_s = time.perf_counter() - start

    solution = output.solution
    solution.attrs.update({"pde": pde_obj.name, "solver": solver_cls.name, "pde_params": json.dumps(pde_obj.params()),
                           "solver_config": json.dumps(to_dict(cfg)), "seed": seed, "sciml_version": _version()})
    metrics = {
        "pde": pde_obj.name, "solver": solver_cls.name, "kind": solver_cls.kind, "preset": preset or "default",
        "rel_l2": solution_rel_l2(solution), "wall_s": round(wall_s, 3), "steps": output.steps,
        "device": str(device_obj), "dtype": dtype_name(dtype_obj), "n_params": output.n_params,
        "seed": seed, "status": output.status, "ranks": ranks, **output.metrics,
    }
    if run is not None:
        from .plots import plot_history, plot_solution  # matplotlib only when plots are written

        run.write_solution(solution)
        plot_solution(solution, run.plots)
        plot_history(run.read_history(), run.plots / "loss.png")
        run.write_metrics(metrics)
    return Result(solution=solution, metrics=metrics, run_dir=Path(out) if out is not None else None,
                  status=output.status, message=output.message)
