"""Type stubs of the native module (psychrnn-py/src): what the Python modules wrap."""

import os
from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt

VERSION: str

class PsychrnnError(ValueError):
    """An error of psychrnn, with the CLI's message (the field, file, shape or value)."""

Float32Array = npt.NDArray[np.float32]

class NativeModel:
    def __init__(self, manifest: dict[str, Any], base_dir: Optional[os.PathLike[str] | str] = None) -> None: ...
    def train(
        self,
        manifest: dict[str, Any],
        held: Sequence[int] = ...,
        verbose: bool = True,
        training_weights_path: Optional[str] = None,
    ) -> tuple[list[float], float, float, list[tuple[float, int]]]: ...
    def test(self, x: Float32Array) -> tuple[Float32Array, Float32Array]: ...
    def weights_npz(self) -> bytes: ...
    def save(self, path: os.PathLike[str] | str) -> None: ...
    def lock_toml(self) -> str: ...
    def sizes(self) -> tuple[int, int, int]: ...

def train_manifest(
    path: Optional[os.PathLike[str] | str] = None,
    text: Optional[str] = None,
    origin: Optional[os.PathLike[str] | str] = None,
    out: Optional[os.PathLike[str] | str] = None,
    overrides: Sequence[str] = ...,
    force: bool = False,
    quiet: bool = False,
) -> str: ...
def command(argv: Sequence[str]) -> Optional[str]: ...
def main(argv: Sequence[str]) -> int: ...
def set_worker(program: os.PathLike[str] | str, args: Sequence[str]) -> bool: ...
def hold(object: Any, verbose: bool = False) -> int: ...
def release(handle: int) -> None: ...
def task_batch(table: dict[str, Any], n_trials: int, seed: int) -> tuple[Float32Array, Float32Array, Float32Array, str]: ...
def task_info(table: dict[str, Any]) -> tuple[int, int, int]: ...
def toml_text(manifest: dict[str, Any]) -> str: ...
def simulate(
    weights: dict[str, Float32Array],
    x: Float32Array,
    alpha: float,
    rec_noise: float = 0.0,
    transfer_function: str = "relu",
    t_connectivity: Optional[Float32Array] = None,
    lesions: Sequence[tuple[Sequence[int], int]] = ...,
    pulses: Sequence[tuple[Sequence[int], int, int, float]] = ...,
    seed: int = 0,
) -> tuple[Float32Array, Float32Array]: ...
