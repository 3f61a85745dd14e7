"""Training: the shared loop, its config and checkpoints."""

from .checkpoint import load_checkpoint, save_checkpoint
from .trainer import Callback, Objective, TrainConfig, Trainer, TrainResult

__all__ = ["Callback", "Objective", "TrainConfig", "Trainer", "TrainResult", "load_checkpoint", "save_checkpoint"]
