# Two commands do everything on a fresh machine:  make demo  and  make test.
# torch is installed first so that the package's `torch>=2.3` never pulls a multi-GB CUDA build
# where none is wanted: a torch the system Python already has is reused (the venv then sees the
# system site-packages); otherwise TORCH_SPEC is installed (override it for a CUDA build, e.g.
# make setup TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124").
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
SYSTEM_TORCH := $(shell $(PY) -c "import torch" 2>/dev/null && echo yes)

.PHONY: setup demo test bench lint clean

$(BIN)/python:
	$(PY) -m venv $(if $(SYSTEM_TORCH),--system-site-packages) $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[test]"
	$(BIN)/python -m pip install -e ".[test,fast]" || echo "numba (the fast extra) did not install: the PINN jet engine runs its tensor rules"
	touch $@

setup: $(VENV)/.installed

# Every demo writes a fresh directory (nothing earlier is deleted); make demo DEMO_OUT=DIR to choose it.
DEMO_OUT := runs/demo-$(shell date +%Y%m%d-%H%M%S)

demo: setup
	$(BIN)/sciml solve burgers --solver pinn --preset quick --out $(DEMO_OUT) --device cpu
	@echo "plots: $(DEMO_OUT)/plots/ (solution.png, error.png, u_snapshots.png, u.gif, loss.png)"

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/reaction_diffusion_vs_solve_ivp.py
	$(BIN)/python benchmarks/pinn_vs_deepxde.py
	$(BIN)/python benchmarks/pinn_derivative_engines.py
	$(BIN)/python benchmarks/data_loader_throughput.py
	$(BIN)/python benchmarks/generation_scaling.py
	$(BIN)/python benchmarks/scaling.py

lint: setup
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check --select E9,F63,F7,F82,F401,F841 .

clean:
	rm -rf $(VENV) runs build *.egg-info
