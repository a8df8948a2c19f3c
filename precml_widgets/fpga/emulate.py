"""Bit-accurate emulation of hls4ml firmware with the machine's g++, batched over events.

hls4ml's own ``predict()`` calls the compiled firmware once per event from Python (~4e3-1.5e4
events/s here). :class:`FirmwareEmulator` compiles the *same* generated C++ (``firmware/*.cpp``
and hls4ml's bridge) together with a small batch loop, parallelised with OpenMP, so millions
of events go through one call; its vectorised NumPy twin
(:mod:`precml_widgets.fpga.fixed_emulation`) is 10-60x faster still. Both are bit-identical to
hls4ml's ``predict()``: ``benchmarks/bench_fpga_emulation.py`` compares them on 1e5 events
per model, the tests on 1e4, and the twin against the C++ loop on 1e5 events for eight
configurations.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from precml_widgets._checks import require_array, require_choice
from precml_widgets._io import write_text
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError
from precml_widgets.fpga import cache as cache_mod
from precml_widgets.fpga.convert import DeployConfig, convert
from precml_widgets.fpga.fixed_emulation import FixedPointModel, UnsupportedFirmwareError
from precml_widgets.fpga.toolchain import FirmwareBuildError, compiler_version, cxx_flags

if TYPE_CHECKING:
    import torch

__all__ = [
    "EmulationResult",
    "FirmwareBuildError",
    "FirmwareEmulator",
    "compiler_version",
    "emulate",
]

_BATCH_SOURCE = """
// precml: run the hls4ml firmware on a batch of events (same C++ as hls4ml's bridge).
#include <omp.h>
extern "C" void {project}_float(float *x, float *y);
extern "C" void precml_predict_batch(float *x, float *y, long n, long n_in, long n_out,
                                     int threads) {{
    if (n <= 0) return;
    {project}_float(x, y);  // the first call loads weights and fills lookup tables
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long i = 1; i < n; i++) {project}_float(x + i * n_in, y + i * n_out);
}}
"""


def _vectorised_twin(hls_model: Any) -> tuple[Any, str]:
    """The bit-exact NumPy twin of ``hls_model``, or ``(None, why not)``."""
    try:
        return FixedPointModel.from_hls_model(hls_model), ""
    except UnsupportedFirmwareError as exc:
        return None, str(exc)
    except Exception as exc:  # a model the twin misreads: the C++ stays available
        return None, f"the vectorised twin could not read this model ({type(exc).__name__}: {exc})"


def _first_errors(log: str, n: int = 5) -> str:
    lines = [line for line in log.splitlines() if re.search(r"\berror\b", line)]
    return "\n".join(lines[:n]) or log[-2000:]


class FirmwareEmulator:
    """Converted, written and compiled hls4ml firmware for one configuration.

    The project lives in a temporary folder that :meth:`close` (or leaving a ``with`` block)
    removes; the compiled library stays loaded for the life of the process.

    Args:
        model: torch model (see :func:`precml_widgets.fpga.convert.convert`).
        input_shape: one event's input shape, e.g. ``(16,)``.
        config: deployment settings.

    Example:
        >>> from precml_widgets.fpga.models import load_jet_tagger
        >>> with FirmwareEmulator(load_jet_tagger(), (16,), DeployConfig()) as fw:  # doctest: +SKIP
        ...     y = fw.predict(x)  # (n, 5), bit-accurate
    """

    def __init__(
        self, model: torch.nn.Module, input_shape: tuple[int, ...], config: DeployConfig
    ) -> None:
        compiler_version()  # fail early, with install instructions, if g++ is missing
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="precml_hls_")
        try:
            t0 = time.perf_counter()
            self.project_dir = Path(self._tmp.name) / "project"
            self.hls_model = convert(model, input_shape, config, self.project_dir)
            inputs = self.hls_model.get_input_variables()
            outputs = self.hls_model.get_output_variables()
            if len(inputs) != 1 or len(outputs) != 1:
                raise InvalidInputError(
                    f"the emulator supports one input and one output tensor, the model has "
                    f"{len(inputs)} and {len(outputs)}"
                )
            self.n_in = int(np.prod(inputs[0].shape))
            self.n_out = int(np.prod(outputs[0].shape))
            self.fixed_point, self.vectorised_reason = _vectorised_twin(self.hls_model)
            self.hls_model.write()
            self._lib = self._build()
            self._lib.precml_predict_batch(
                np.zeros((1, self.n_in), np.float32),
                np.zeros((1, self.n_out), np.float32),
                1,
                self.n_in,
                self.n_out,
                1,
            )  # loads the weights from the project folder before it can be removed
            self.compile_s = time.perf_counter() - t0
        except BaseException:
            self._tmp.cleanup()
            raise

    def _build(self) -> Any:
        project = self.hls_model.config.get_project_name()
        source = self.project_dir / "precml_batch.cpp"
        write_text(source, _BATCH_SOURCE.format(project=project))
        library = self.project_dir / "precml_batch.so"
        weights = self.project_dir / "firmware" / "weights"
        command = [
            "g++",
            *cxx_flags(),
            f"-I{self.project_dir / 'firmware' / 'ap_types'}",
            f'-DWEIGHTS_DIR="{weights}"',
            str(self.project_dir / "firmware" / f"{project}.cpp"),
            str(self.project_dir / f"{project}_bridge.cpp"),
            str(source),
            "-o",
            str(library),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise FirmwareBuildError(
                f"g++ failed to compile the hls4ml firmware for {self.config.key()}:\n"
                f"{_first_errors(done.stderr)}\nA type too narrow for a constant or an "
                "unsupported layer option is the usual cause; try a wider precision."
            )
        lib = ctypes.CDLL(str(library))
        array = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
        lib.precml_predict_batch.argtypes = [
            array,
            array,
            ctypes.c_long,
            ctypes.c_long,
            ctypes.c_long,
            ctypes.c_int,
        ]
        lib.precml_predict_batch.restype = None
        return lib

    def _as_input(self, x: np.ndarray) -> np.ndarray:
        arr = np.ascontiguousarray(require_array("x", x, finite=False), dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        arr = arr.reshape(len(arr), -1)
        if arr.shape[1] != self.n_in:
            raise InvalidInputError(
                f"x has {arr.shape[1]} values per event, the firmware expects {self.n_in}"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError("x contains NaN or infinite values; clean the inputs first")
        return arr

    def predict(
        self,
        x: np.ndarray,
        *,
        threads: int | None = None,
        engine: Literal["auto", "cxx", "vectorised"] = "cxx",
    ) -> np.ndarray:
        """Bit-accurate firmware outputs, shape ``(n, n_out)`` float32.

        Args:
            x: inputs, shape ``(n, n_in)``; converted to float32 as hls4ml's ``predict`` does.
            threads: threads (default: all cores).
            engine: ``"cxx"`` runs hls4ml's compiled C++; ``"vectorised"`` the bit-exact NumPy
                twin (:mod:`precml_widgets.fpga.fixed_emulation`, ~10x faster); ``"auto"`` the
                twin when it supports every layer, else the C++.
        """
        arr = self._as_input(x)
        require_choice("engine", engine, ("auto", "cxx", "vectorised"))
        if engine == "vectorised" and self.fixed_point is None:
            raise InvalidInputError(f"no vectorised emulation: {self.vectorised_reason}")
        if engine != "cxx" and self.fixed_point is not None:
            return self.fixed_point.predict(arr, threads=threads)
        out = np.empty((len(arr), self.n_out), dtype=np.float32)
        n_threads = int(threads) if threads else len(os.sched_getaffinity(0))
        self._lib.precml_predict_batch(arr, out, len(arr), self.n_in, self.n_out, n_threads)
        return out

    def hls4ml_predict(self, x: np.ndarray) -> np.ndarray:
        """hls4ml's own ``compile()`` + ``predict()`` (one call per event): the reference."""
        arr = self._as_input(x)
        if not self.project_dir.exists():
            raise InvalidInputError(
                "hls4ml_predict needs the project folder, which close() removed; call it inside "
                "the with-block"
            )
        if not getattr(self, "_hls_compiled", False):
            self.hls_model.compile()
            self._hls_compiled = True
        return np.asarray(self.hls_model.predict(arr), dtype=np.float32).reshape(len(arr), -1)

    def close(self) -> None:
        """Remove the project folder (the loaded library stays usable)."""
        self._tmp.cleanup()

    def __enter__(self) -> FirmwareEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class EmulationResult:
    """Firmware outputs next to the float model's on the same events.

    Attributes:
        config: the :class:`DeployConfig` as a dict.
        emulated: bit-accurate firmware outputs, ``(n, n_out)`` float32.
        reference: the torch float model's outputs, ``(n, n_out)`` float32.
        compile_s: seconds to convert, write and compile (0 when read from the cache).
        predict_s: seconds to emulate the events.
        versions: tool versions the result depends on.
        cached: True if read from the cache.
        engine: ``"cxx"`` (hls4ml's C++) or ``"vectorised"`` (NumPy twin, checked bit-exact
            against the C++ on the first events of this very configuration).
    """

    config: dict[str, Any]
    emulated: np.ndarray
    reference: np.ndarray
    compile_s: float
    predict_s: float
    versions: dict[str, str]
    cached: bool = False
    engine: str = "cxx"

    @property
    def n_events(self) -> int:
        """Number of emulated events."""
        return len(self.emulated)

    @property
    def max_abs_diff(self) -> float:
        """Largest ``|firmware - float|`` over all events and outputs."""
        return float(np.max(np.abs(self.emulated - self.reference)))

    @property
    def mean_abs_diff(self) -> float:
        """Mean ``|firmware - float|``."""
        return float(np.mean(np.abs(self.emulated - self.reference)))

    @property
    def argmax_agreement(self) -> float | None:
        """Fraction of events whose largest output is the same class (None for one output)."""
        if self.emulated.shape[1] < 2:
            return None
        return float(np.mean(self.emulated.argmax(1) == self.reference.argmax(1)))

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers (no arrays)."""
        return {
            "config": self.config,
            "n_events": self.n_events,
            "max_abs_diff": self.max_abs_diff,
            "mean_abs_diff": self.mean_abs_diff,
            "argmax_agreement": self.argmax_agreement,
            "compile_s": self.compile_s,
            "predict_s": self.predict_s,
            "versions": self.versions,
            "cached": self.cached,
            "engine": self.engine,
        }


def _float_outputs(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    torch = require("torch", "fpga", "the float reference")
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), 65536):
            out.append(model(torch.from_numpy(x[i : i + 65536])).reshape(len(x[i : i + 65536]), -1))
    return torch.cat(out).float().numpy() if out else np.zeros((0, 1), np.float32)


def emulate(
    model: torch.nn.Module,
    x: np.ndarray,
    config: DeployConfig,
    *,
    input_shape: tuple[int, ...] | None = None,
    cache: bool = True,
    cache_folder: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    check_events: int = 2000,
) -> EmulationResult:
    """Run ``x`` through the firmware of ``config`` and through the float model.

    Results are cached (see :mod:`precml_widgets.fpga.cache`); compilation happens in a
    temporary folder that is removed afterwards.

    Args:
        model: torch model (eval mode is set).
        x: events, ``(n, n_features)``.
        config: deployment settings.
        input_shape: one event's shape (default ``(n_features,)``).
        cache: read and write the on-disk cache.
        cache_folder: cache location (default :func:`precml_widgets.fpga.cache.cache_dir`).
        threads: threads of the emulation.
        check_events: events (half drawn at random, half those with the largest inputs) on
            which the fast vectorised twin must equal hls4ml's compiled C++ bit for bit before
            it emulates the rest (else the C++ does all events).
    """
    hint = "pass the events as an (n_events, n_features) array of finite numbers."
    arr = np.ascontiguousarray(require_array("x", x, hint=hint), dtype=np.float32)
    if arr.ndim != 2 or len(arr) == 0:
        raise InvalidInputError(
            f"x must be a non-empty (n_events, n_features) array, got {arr.shape}"
        )
    model = model.eval()
    config.validate()
    versions = cache_mod.tool_versions()
    folder = Path(cache_folder) if cache_folder is not None else None
    shape = tuple(input_shape) if input_shape else (arr.shape[1],)
    key = cache_mod.cache_key(config.key(), model, arr, versions, shape)
    if cache:
        hit = cache_mod.load_entry(key, folder, n_events=len(arr))
        if hit is not None:
            arrays, meta = hit
            return EmulationResult(
                config.to_dict(),
                arrays["emulated"],
                arrays["reference"],
                0.0,
                float(meta["predict_s"]),
                versions,
                cached=True,
                engine=str(meta.get("engine", "cxx")),
            )
    if int(np.prod(shape)) != arr.shape[1]:
        raise InvalidInputError(
            f"input_shape {shape} holds {int(np.prod(shape))} values, x has {arr.shape[1]} "
            "per event"
        )
    reference = _float_outputs(model, arr.reshape(len(arr), *shape))
    with FirmwareEmulator(model, shape, config) as firmware:
        engine = "cxx"
        if firmware.fixed_point is not None and len(arr) > check_events:
            # a random sample and the events with the largest inputs (saturation, wrapping)
            rng = np.random.default_rng(0)
            largest = np.argsort(np.abs(arr).max(axis=1))[-(check_events // 2) :]
            sample = rng.choice(len(arr), check_events - len(largest), replace=False)
            head = arr[np.concatenate([sample, largest])]
            if np.array_equal(
                firmware.predict(head, threads=threads, engine="cxx"),
                firmware.predict(head, threads=threads, engine="vectorised"),
            ):
                engine = "vectorised"
            else:  # pragma: no cover - would be a bug of the twin; the C++ stays the truth
                warnings.warn(
                    f"vectorised emulation differs from hls4ml's C++ for {config.key()}; "
                    "using the C++ (slower)",
                    RuntimeWarning,
                    stacklevel=2,
                )
        t0 = time.perf_counter()
        emulated = firmware.predict(arr, threads=threads, engine=engine)
        predict_s = time.perf_counter() - t0
        compile_s = firmware.compile_s
    meta = {"config": config.to_dict(), "predict_s": predict_s, "versions": versions}
    if cache:
        cache_mod.try_save_entry(
            key, {"emulated": emulated, "reference": reference}, {**meta, "engine": engine}, folder
        )
    return EmulationResult(
        config.to_dict(), emulated, reference, compile_s, predict_s, versions, engine=engine
    )
