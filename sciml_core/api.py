"""``sciml_core.solve``: one entry point that drives every registered solver.

    result = solve("burgers", solver="pinn", preset="default", out="runs/b1")
    result.metrics["rel_l2"], result.solution["u"], result.run_dir

Presets: a name is looked up among the solver's presets (``quick``, ``default``,
``paper``, ...) and then among the PDE's (literature regimes such as ``stable-spiral``).
Overrides (``--set``): keys under ``pde.`` set PDE parameters, every other key the solver's
config (``train.lr=1e-3``, ``model.width=64``).  A config file has the layout of a run's
``config.toml`` (top-level ``pde``, ``solver``, ``preset``, ``seed``, ``device``, ``dtype``,
``budget_s``, ``data`` (an operator's dataset file, absolute) and the tables ``[pde_params]``
and ``[config]``), so any run can be repeated from its file.

The run directory (see :mod:`.run`) is written only once every setting is valid; ``--resume``
starts from the run's own config.toml and refuses settings that differ from it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .config import (build_config, check_seed, deep_merge, dumps_toml, parse_overrides, read_toml, read_toml_text,
                     to_dict)
from .device import dtype_name, resolve_device, resolve_dtype
from .errors import CheckpointError, ConfigError, DivergenceError, SciMLError
from .metrics import solution_rel_l2
from .pdes.base import PDE
from .registry import get_pde, get_solver, unknown_name_error
from .run import RunDirectory, non_finite_keys
from .solver import Result, RunContext, Solver
from .train import distributed

CONFIG_FILE_KEYS = ("pde", "solver", "preset", "seed", "device", "dtype", "budget_s", "data", "pde_params", "config")
_KEY_TYPES: dict[str, tuple[type, ...]] = {"pde": (str,), "solver": (str,), "preset": (str,), "seed": (int,),
                                           "device": (str,), "dtype": (str,), "budget_s": (int, float), "data": (str,),
                                           "pde_params": (dict,), "config": (dict,)}
#: settings a resumed run may change: where it runs and how long it may take
RESUMABLE_CHANGES = ("device", "budget_s")


def read_run_config(path: str | Path) -> dict[str, Any]:
    """Read a config file in the run ``config.toml`` layout (see :func:`check_run_config`)."""
    return check_run_config(read_toml(path), f"config file {str(path)!r}")


def check_run_config(data: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Reject unknown top-level keys and values of the wrong kind (``pde_params = 5``)."""
    unknown = sorted(set(data) - set(CONFIG_FILE_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} (valid: {', '.join(CONFIG_FILE_KEYS)})")
    for key, value in data.items():
        types = _KEY_TYPES[key]
        if not isinstance(value, types) or isinstance(value, bool):
            kind = "a table" if dict in types else "a string" if str in types else "a number"
            raise ConfigError(f"{source}: {key!r} must be {kind}, got {value!r}")
    return dict(data)


def check_budget(budget_s: Any) -> float | None:
    if budget_s is None:
        return None
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not (0 < budget_s < math.inf):
        raise ConfigError(f"--budget-s must be a positive number of seconds, got {budget_s!r}")
    return float(budget_s)


def settings_differences(stored: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between a run's stored config and the current one
    (keys the stored file does not record are defaults of its time and are not compared)."""
    out = []
    for key in sorted(set(stored) | set(current)):
        name = f"{prefix}{key}"
        if name in RESUMABLE_CHANGES or key not in stored:
            continue
        a, b = stored.get(key), current.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += settings_differences(a, b, f"{name}.")
        elif a != b:
            out.append(f"{name} ({_show(a)} in the run, {_show(b)} now)")
    return out


def _run_recorded(solver: Solver, run: RunDirectory | None, config_text: str, summary: dict[str, Any]) -> Any:
    """``solver.run()`` inside its run directory: begun once every setting is valid; a diverged
    run leaves metrics.json (status "diverged") and run.json saying so; a user mistake found
    once running is rolled back (the disk as it was); any other failure is marked in run.json."""
    if run is None:
        return solver.run()
    start = time.perf_counter()
    run.begin(config_text)
    try:
        return solver.run()
    except DivergenceError as exc:
        ctx = solver.context
        run.write_metrics({**summary, "rel_l2": None, "wall_s": round(time.perf_counter() - start, 3),
                           "device": str(ctx.device), "dtype": dtype_name(ctx.dtype), "seed": ctx.seed,
                           "status": "diverged", "message": str(exc)})
        run.end_with(exc)
        raise
    except SciMLError:
        run.rollback()
        raise
    except BaseException as exc:
        run.end_with(exc)
        raise


def _refuse_differences(run: RunDirectory, stored: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    differ = settings_differences({k: v for k, v in stored.items() if k in current}, current)
    if differ:
        raise ConfigError(f"--resume: the settings differ from the run in {str(run.path)!r}: {'; '.join(differ)}; "
                          "resume with the run's own settings, or start a new run (--force or another --out)")


def _show(value: Any) -> str:
    return "unset" if value is None else repr(value)


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
    distributed.init_group()  # under torchrun: join the ranks' process group

    def plan() -> tuple[RunDirectory | None, dict[str, Any] | None]:
        run = RunDirectory.plan(out, resume=resume, force=force) if out is not None else None
        if resume and run is None:
            raise CheckpointError("--resume: no checkpoint to resume from at '(no --out given)'")
        stored = read_run_config(run.config_file) if resume and run is not None and run.config_file.exists() else None
        return run, stored

    run, stored = distributed.on_main(plan) or (None, None)  # rank 0 alone writes the run directory
    stored = distributed.broadcast_object(stored)  # a resumed run's own settings, for every rank
    file_cfg: dict[str, Any] = {}
    if isinstance(config, (str, Path)):
        file_cfg = read_run_config(config)
    elif config is not None:
        file_cfg = check_run_config(config)
    elif stored is not None:  # resume: the run's own settings
        file_cfg = {k: v for k, v in stored.items() if k not in RESUMABLE_CHANGES}
        named = {"pde": pde if isinstance(pde, str) else getattr(pde, "name", None),
                 "solver": solver if isinstance(solver, str) else getattr(solver, "name", None)}
        _refuse_differences(RunDirectory.existing(out), file_cfg, {k: v for k, v in named.items() if v is not None})
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

    seed = check_seed(seed if seed is not None else file_cfg.get("seed", 0))
    budget_s = check_budget(budget_s if budget_s is not None else file_cfg.get("budget_s"))
    device_obj = resolve_device(device if device != "auto" or "device" not in file_cfg else file_cfg["device"])
    device_obj = distributed.rank_device(device_obj)  # under torchrun on CUDA: cuda:LOCAL_RANK
    ranks = distributed.world_size()
    if ranks > 1 and solver_cls.kind == "reference":
        raise ConfigError(f"solver {solver_cls.name!r} is a numerical reference: it runs in one process (batched "
                          "on a GPU when there is one); use one rank, or 'sciml data generate --workers/--scheduler' "
                          "for many samples")
    default_dtype = "float64" if solver_cls.kind == "reference" else "float32"
    dtype_obj = resolve_dtype(dtype or file_cfg.get("dtype", default_dtype))
    data = data if data is not None else file_cfg.get("data")
    context = RunContext(device=device_obj, dtype=dtype_obj, seed=seed, budget_s=budget_s, resume=resume,
                         data=Path(data) if data is not None else None, run=run,
                         progress=progress and distributed.is_main())
    solver_obj = solver_cls(pde_obj, cfg, context)
    cfg = solver_obj.resolved_config()  # every automatic choice made, as config.toml records it
    resolved = {
        "pde": pde_obj.name, "solver": solver_cls.name, "preset": preset or "default", "seed": seed,
        "device": str(device_obj), "dtype": dtype_name(dtype_obj), "budget_s": budget_s,
        "data": str(Path(data).resolve()) if data is not None else None, "pde_params": pde_obj.params(), "config": to_dict(cfg),
    }
    config_text = dumps_toml(resolved)
    if resume and stored is not None:
        _refuse_differences(RunDirectory.existing(out), stored, read_toml_text(config_text))

    torch.manual_seed(seed)
    start = time.perf_counter()
    summary = {"pde": pde_obj.name, "solver": solver_cls.name, "kind": solver_cls.kind, "preset": preset or "default"}
    output = _run_recorded(solver_obj, run, config_text, summary)
    wall_s = time.perf_counter() - start

    solution = output.solution
    solution.attrs.update({"pde": pde_obj.name, "solver": solver_cls.name, "pde_params": json.dumps(pde_obj.params()),
                           "solver_config": json.dumps(to_dict(cfg)), "seed": seed, "sciml_version": _version()})
    metrics = {
        **summary, "rel_l2": solution_rel_l2(solution), "wall_s": round(wall_s, 3), "steps": output.steps,
        "device": str(device_obj), "dtype": dtype_name(dtype_obj), "n_params": output.n_params,
        "seed": seed, "status": output.status, "ranks": ranks, **output.metrics,
    }
    if solver_preset in solver_cls.smoke_presets:
        metrics["smoke_test"] = True
        metrics["note"] = (f"preset {solver_preset!r} is a smoke test: it checks the pipeline in seconds; "
                           "its error is not a result (use --preset default)")
    undefined = non_finite_keys(metrics)
    if undefined:  # written as null: say which, and why a number is missing
        metrics["non_finite"] = undefined
    if run is not None:
        from .plots import plot_history, plot_solution  # matplotlib only when plots are written

        run.write_solution(solution)
        if getattr(cfg, "plots", True):  # a solver config may switch its run's plots off (plots = false)
            plot_solution(solution, run.plots)
            plot_history(run.read_history(), run.plots / "loss.png")
        run.write_metrics(metrics)
        run.end("complete")
    return Result(solution=solution, metrics=metrics, run_dir=Path(out) if out is not None else None,
                  status=output.status, message=output.message)
