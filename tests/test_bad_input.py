"""The bad-input corpus: hostile and careless inputs end in precml's own errors, cheaply.

Each case of :data:`CASES` builds one bad input (in a temporary folder where it needs a file)
and calls the public function a user would call; it must raise the expected
:mod:`precml_widgets.errors` type with a message that names the input (the regex). Each case
failed before issue 11 (a raw ``ValueError``/``OSError``, a silent NaN or zero, or gigabytes
allocated). The tests after the corpus check what an error type cannot: that the refusal is
cheap (time, memory), that nothing is executed or left half-written, and the warnings that
travel with a result (emulation cache, VEGAS).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from precml_widgets.errors import InvalidInputError, PrecmlError

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

# --------------------------------------------------------------------------- files to break

#: A minimal Vivado HLS report with every part ``read_csynth`` reads (numbers of a real one).
RPT = """
================================================================
== Vivado HLS Report for 'myproject'
================================================================
* Version:        2019.2 (Build 2704478 on Wed Nov 06 22:10:23 MST 2019)
* Target device:  xc7z020-clg400-1

+ Timing:
    * Summary:
    +--------+---------+----------+------------+
    |  Clock |  Target | Estimated| Uncertainty|
    +--------+---------+----------+------------+
    |ap_clk  | 5.00 ns | 4.371 ns |   0.62 ns  |
    +--------+---------+----------+------------+

+ Latency:
    * Summary:
    +---------+---------+-----------+-----------+-----+-----+----------+
    |  Latency (cycles) |   Latency (absolute)  |  Interval | Pipeline |
    |   min   |   max   |    min    |    max    | min | max |   Type   |
    +---------+---------+-----------+-----------+-----+-----+----------+
    |       13|       13| 65.000 ns | 65.000 ns |    1|    1| function |
    +---------+---------+-----------+-----------+-----+-----+----------+

================================================================
== Utilization Estimates
================================================================
* Summary:
+---------------------+---------+-------+---------+---------+------+
|         Name        | BRAM_18K| DSP48E|    FF   |   LUT   | URAM |
+---------------------+---------+-------+---------+---------+------+
|DSP                  |        -|      -|        -|        -|     -|
|Instance             |        4|    152|     7676|    25098|     -|
+---------------------+---------+-------+---------+---------+------+
|Total                |        4|    152|    11100|    25140|     0|
+---------------------+---------+-------+---------+---------+------+
|Available            |      280|    220|   106400|    53200|     0|
+---------------------+---------+-------+---------+---------+------+
"""

#: A minimal Vivado HLS ``*_csynth.xml`` (the same design).
XML = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
  <ReportVersion><Version>2019.2</Version></ReportVersion>
  <UserAssignments>
    <Part>xc7z020-clg400-1</Part><TargetClockPeriod>5.00</TargetClockPeriod>
  </UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><EstimatedClockPeriod>4.371</EstimatedClockPeriod>
    </SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency>
      <Best-caseLatency>13</Best-caseLatency><Worst-caseLatency>13</Worst-caseLatency>
      <Interval-min>1</Interval-min><Interval-max>1</Interval-max>
    </SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates>
    <Resources><BRAM_18K>4</BRAM_18K><DSP48E>152</DSP48E><FF>11100</FF><LUT>25140</LUT>
      <URAM>0</URAM></Resources>
    <AvailableResources><BRAM_18K>280</BRAM_18K><DSP48E>220</DSP48E><FF>106400</FF>
      <LUT>53200</LUT><URAM>0</URAM></AvailableResources>
  </AreaEstimates>
</profile>
"""


def write(tmp: Path, name: str, text: str) -> Path:
    """``text`` written to ``tmp / name``."""
    path = tmp / name
    path.write_text(text)
    return path


def autoencoder_file(tmp: Path, name: str, *, hidden: list[int], tensors: dict | None = None):
    """A safetensors file with precml metadata for ``hidden`` and the given (tiny) tensors."""
    meta = {
        "format": "precml-dimuon-autoencoder/1",
        "config": {"hidden": hidden, "latent": 2, "epochs": 1, "batch_size": 8},
        "mean": [0.0] * 5,
        "std": [1.0] * 5,
        "feature_names": ["log_pt1", "log_pt2", "eta1", "eta2", "abs_dphi"],
        "loss_history": [1.0],
        "n_train": 10,
        "seconds": 1.0,
    }
    path = tmp / name
    tensors = tensors if tensors is not None else {"0.weight": torch.zeros(1)}
    safetensors_torch.save_file(tensors, str(path), metadata={"precml": json.dumps(meta)})
    return path


def with_header(tmp: Path, name: str, header: dict, data: bytes = b"") -> Path:
    """A file with a hand-written safetensors header (8-byte length, JSON) and ``data``."""
    raw = json.dumps(header).encode()
    path = tmp / name
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


def raw_header(tmp: Path, name: str, raw: bytes) -> Path:
    """A file whose header is the bytes ``raw`` (not necessarily JSON), with no data."""
    path = tmp / name
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    return path


def unreadable_file(tmp: Path, name: str) -> Path:
    """A file the OS refuses to read: mode 000, or for root (who ignores permission bits) a
    link to ``/proc/self/mem``, whose first bytes raise ``EIO``."""
    path = tmp / name
    if os.name == "posix" and os.geteuid() != 0:
        path.write_bytes(b"\0" * 64)
        path.chmod(0)
    else:
        path.symlink_to("/proc/self/mem")
    return path


def f32(shape: list[int], start: int, end: int) -> dict:
    """A header entry of an F32 tensor of ``shape`` at data bytes ``start:end``."""
    return {"dtype": "F32", "shape": shape, "data_offsets": [start, end]}


def huge_prefix(tmp: Path, name: str) -> Path:
    """A file whose 8-byte header length says 2**60 bytes."""
    path = tmp / name
    path.write_bytes((2**60).to_bytes(8, "little") + b"{}")
    return path


class _Boom:
    """Pickled, it runs ``open(sentinel, "w")`` on loading: proof of code execution."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


def pickle_file(tmp: Path, name: str) -> Path:
    """A pickle that creates ``tmp / 'executed'`` when unpickled (a torch-style .pt/.pth)."""
    path = tmp / name
    path.write_bytes(pickle.dumps({"state_dict": _Boom(tmp / "executed")}))
    return path


def unwritable_folder(tmp: Path) -> Path:
    """A folder the OS refuses to create files in, even for root (``/proc/self``)."""
    if os.name == "posix" and os.geteuid() != 0:
        folder = tmp / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    return Path("/proc/self")  # root ignores permission bits; procfs takes no new files


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One bad input: ``call(tmp_path)`` must raise ``error`` with ``match`` in its message.

    ``guard`` marks the few cases that precml already refused before issue 11 (pickles, a
    header length of 2**60, a folder that is a file): they keep that behaviour true.
    """

    id: str
    call: Callable[[Path], object]
    match: str
    error: type[Exception] = InvalidInputError
    guard: bool = False


def _load(path_of: Callable[[Path], Path]) -> Callable[[Path], object]:
    from precml_widgets.anomaly.model import load_autoencoder

    return lambda tmp: load_autoencoder(path_of(tmp))


def _csynth(name: str, text: str) -> Callable[[Path], object]:
    from precml_widgets.fpga.reports import read_csynth

    return lambda tmp: read_csynth(write(tmp, name, text))


def _anomaly_scores(features: object) -> object:
    from precml_widgets.anomaly.model import anomaly_scores, load_autoencoder

    return anomaly_scores(load_autoencoder(), features)


def _rate(**kwargs: object) -> object:
    from precml_widgets.anomaly.rates import ScoreSample, rate_at_threshold, threshold_for_rate

    sample = ScoreSample("toy", np.arange(100.0))
    if "target_rate_hz" in kwargs:
        return threshold_for_rate(sample, **kwargs)
    return rate_at_threshold(sample, 50.0, **kwargs)


def _estimate(layer_kwargs: dict) -> object:
    from precml_widgets.fpga.estimator import estimate
    from precml_widgets.fpga.layers import DenseLayer

    return estimate([DenseLayer(**layer_kwargs)], device="xcvu13p")


def _emulate(x: object) -> object:
    from precml_widgets.fpga.convert import DeployConfig
    from precml_widgets.fpga.emulate import emulate

    return emulate(torch.nn.Sequential(torch.nn.Linear(3, 2)), x, DeployConfig())


def _weighted_events(x: object) -> object:
    from precml_widgets.integration.result import WeightedEvents

    return WeightedEvents(x, np.ones(3))


def _device(**totals: object) -> object:
    from precml_widgets.fpga.devices import Device

    counts = {"dsp": 100, "lut": 10_000, "ff": 20_000, "bram18k": 20} | totals
    return Device("my board", "xcfoo", "UltraScale+", **counts)


def _write_to(folder_of: Callable[[Path], Path]) -> Callable[[Path], object]:
    from precml_widgets._io import write_text

    return lambda tmp: write_text(folder_of(tmp) / "rates.csv", "threshold,rate_hz\n")


def _split(seed: int) -> object:
    from precml_widgets.anomaly.events import DimuonEvents
    from precml_widgets.anomaly.samples import split_tune_validate

    events = DimuonEvents("toy", np.full((4, 2), 20.0), np.zeros((4, 2)), np.zeros((4, 2)), False)
    return split_tune_validate(events, seed=seed)


def _resonance(seed: int) -> object:
    from precml_widgets.anomaly.fastsim import simulate_resonance

    return simulate_resonance(100.0, 10, seed=seed)


def _unweight(seed: int) -> object:
    from precml_widgets.integration.result import WeightedEvents
    from precml_widgets.integration.unweighting import unweight

    return unweight(WeightedEvents(np.zeros((10, 1)), np.ones(10)), seed=seed)


def _ae_seed(seed: int) -> object:
    from precml_widgets.anomaly.model import AutoencoderConfig

    return AutoencoderConfig(seed=seed).validate()


RPT_CLOCK = "|ap_clk  | 5.00 ns | 4.371 ns |"
CASES = [
    # --- model files: refused from the header, before any allocation or code execution
    Case(
        "safetensors-metadata-asks-30000x30000-layer",
        _load(lambda t: autoencoder_file(t, "huge.safetensors", hidden=[30000, 30000])),
        r"huge\.safetensors.*1\.8e\+09 parameters, more than the 1e\+07",
    ),
    Case(
        "safetensors-metadata-asks-100000-layers",
        _load(lambda t: autoencoder_file(t, "deep.safetensors", hidden=[1] * 100_000)),
        r"deep\.safetensors': the autoencoder has 100000 hidden layers, more than the 32",
    ),
    Case(
        "safetensors-weights-disagree-with-metadata",
        _load(
            lambda t: autoencoder_file(
                t, "edited.safetensors", hidden=[4], tensors={"0.weight": torch.zeros(4, 6)}
            )
        ),
        r"edited\.safetensors.*do not match.*0\.weight: F32\[4, 6\] \(expected F32\[4, 5\]\)",
    ),
    Case(
        "safetensors-header-length-2**60",
        _load(lambda t: huge_prefix(t, "long.safetensors")),
        r"long\.safetensors.*not a readable safetensors file",
        guard=True,
    ),
    Case(
        "safetensors-offsets-past-end-of-file",
        _load(
            lambda t: with_header(
                t,
                "short.safetensors",
                {"0.weight": f32([1000, 1000], 0, 4_000_000)},
                b"\0" * 16,
            )
        ),
        r"short\.safetensors.*tensor '0\.weight'.*needs 4000000 bytes, its offsets span "
        r"4000000 of the 16 data bytes",
    ),
    Case(
        "safetensors-header-of-1mb-nested-brackets",
        _load(lambda t: raw_header(t, "nested.safetensors", b"[" * 1_000_000)),
        r"nested\.safetensors.*header is not JSON \(nested too deeply\); save the model again",
    ),
    Case(
        "safetensors-unreadable-file",
        _load(lambda t: unreadable_file(t, "locked.safetensors")),
        r"cannot read the model file '[^']*locked\.safetensors'.*permissions",
    ),
    Case(
        "model-path-with-a-300-character-name",
        _load(lambda t: t / ("m" * 300 + ".safetensors")),
        r"cannot read the model file '[^']*mmmm\.safetensors': File name too long; check the path",
    ),
    Case(
        "safetensors-overlapping-tensors",
        _load(
            lambda t: with_header(
                t, "overlap.safetensors", {"a": f32([2], 0, 8), "b": f32([2], 4, 12)}, b"\0" * 12
            )
        ),
        r"overlap\.safetensors.*tensor 'b' starts at data byte 4, where 8 was expected: it "
        r"overlaps",
    ),
    Case(
        "safetensors-gap-between-tensors",
        _load(
            lambda t: with_header(
                t, "gap.safetensors", {"a": f32([1], 0, 4), "b": f32([1], 8, 12)}, b"\0" * 12
            )
        ),
        r"gap\.safetensors.*tensor 'b' starts at data byte 8, where 4 was expected: it leaves a",
    ),
    Case(
        "safetensors-data-no-tensor-covers",
        _load(lambda t: with_header(t, "tail.safetensors", {"a": f32([1], 0, 4)}, b"\0" * 4096)),
        r"tail\.safetensors.*tensors cover 4 of the 4096 data bytes",
    ),
    Case(
        "safetensors-tensor-of-80000-dimensions",
        _load(
            lambda t: with_header(t, "rank.safetensors", {"a": f32([1] * 80_000, 0, 4)}, b"\0" * 4)
        ),
        r"rank\.safetensors.*tensor 'a' has an inconsistent header entry",
    ),
    Case(
        "safetensors-metadata-not-strings",
        _load(lambda t: with_header(t, "meta.safetensors", {"__metadata__": {"precml": 1}})),
        r"meta\.safetensors.*__metadata__ must map names to strings.*save the model again with "
        r"save_autoencoder",
    ),
    Case(
        "pickle-bearing-pt-file",
        _load(lambda t: pickle_file(t, "model.pt")),
        r"model\.pt.*not a readable safetensors file",
        guard=True,
    ),
    Case(
        "pickle-bearing-pth-file",
        _load(lambda t: pickle_file(t, "model.pth")),
        r"model\.pth.*not a readable safetensors file",
        guard=True,
    ),
    # --- HLS synthesis reports: damaged numbers are errors, never NaN, negative or zero
    Case(
        "csynth-rpt-nan-target-clock",
        _csynth("nan_csynth.rpt", RPT.replace(RPT_CLOCK, "|ap_clk  | nan ns | 4.371 ns |")),
        r"nan_csynth\.rpt.*target clock period 'nan' is not a positive number of ns",
    ),
    Case(
        "csynth-rpt-negative-estimated-clock",
        _csynth("neg_csynth.rpt", RPT.replace(RPT_CLOCK, "|ap_clk  | 5.00 ns | -4.3 ns |")),
        r"neg_csynth\.rpt.*estimated clock period '-4\.3' is not a positive number",
    ),
    Case(
        "csynth-rpt-truncated-available-row",
        _csynth(
            "cut_csynth.rpt",
            RPT.replace(
                "|Available            |      280|    220|   106400|    53200|     0|",
                "|Available            |      280|    220|",
            ),
        ),
        r"cut_csynth\.rpt.*'Available' row has 3 of 6 columns",
    ),
    Case(
        "csynth-rpt-dash-in-total-row",
        _csynth("dash_csynth.rpt", RPT.replace("|    152|    11100|", "|      -|    11100|")),
        r"dash_csynth\.rpt.*'Total' dsp cell is '-'",
    ),
    Case(
        "csynth-rpt-zero-available-lut",
        _csynth("zero_csynth.rpt", RPT.replace("|    53200|", "|        0|")),
        r"zero_csynth\.rpt.*'Available' lut cell is '0', expected a whole number > 0",
    ),
    Case(
        "csynth-xml-dash-resource",
        _csynth("dash_csynth.xml", XML.replace("<DSP48E>152<", "<DSP48E>-<")),
        r"dash_csynth\.xml.*<Resources><DSP48E> is '-'",
    ),
    Case(
        "csynth-xml-negative-target-clock",
        _csynth("neg_csynth.xml", XML.replace(">5.00<", ">-5.00<")),
        r"neg_csynth\.xml.*target clock period '-5\.00'",
    ),
    Case(
        "csynth-xml-nan-estimated-clock",
        _csynth("nan_csynth.xml", XML.replace(">4.371<", ">NaN<")),
        r"nan_csynth\.xml.*estimated clock period 'NaN'",
    ),
    Case(
        "csynth-xml-negative-latency",
        _csynth("lat_csynth.xml", XML.replace(">13</Worst", ">-13</Worst")),
        r"lat_csynth\.xml.*worst-case latency '-13'",
    ),
    # --- the core accepts only what the tools and widgets accept
    Case(
        "estimate-reuse-factor-hls4ml-refuses",
        lambda tmp: _estimate({"n_in": 16, "n_out": 64, "reuse_factor": 3, "name": "fc1"}),
        r"layer 'fc1': reuse_factor=3 is not valid for a 16x64.*nearest valid: 2, 4",
    ),
    Case(
        "estimate-layer-of-1e18-weights",
        lambda tmp: _estimate({"n_in": 10**9, "n_out": 10**9, "reuse_factor": 1, "name": "fc1"}),
        r"a 1000000000x1000000000 dense layer has 1e\+18 weights, more than the 4\.29e\+09",
    ),
    Case(
        "weighted-events-number-beyond-float64",
        lambda tmp: _weighted_events([[10**400]] * 3),
        r"WeightedEvents\.x must be an array of numbers, but the list given could not be "
        r"converted to float64 \(.*too large",
    ),
    Case(
        "rate-input-above-lhc-40mhz",
        lambda tmp: _rate(input_rate_hz=1e9),
        r"input_rate_hz must be .*<= 4\.0079e\+07 Hz, got 1000000000\.0",
    ),
    Case(
        "threshold-for-rate-input-above-lhc",
        lambda tmp: _rate(target_rate_hz=1e3, input_rate_hz=41e6),
        r"input_rate_hz must be .*got 41000000\.0.*40\.08 MHz",
    ),
    Case(
        "anomaly-scores-object-array-of-strings",
        lambda tmp: _anomaly_scores(np.array([["a"] * 5] * 3, dtype=object)),
        r"features must be an array of numbers.*could not be converted",
    ),
    Case(
        "anomaly-scores-path-string-for-array",
        lambda tmp: _anomaly_scores("events.npy"),
        r"features must be an array of numbers, got the str 'events\.npy'; load the file",
    ),
    Case(
        "emulate-path-string-for-array",
        lambda tmp: _emulate("jets.npy"),
        r"x must be an array of numbers, got the str 'jets\.npy'; load the file",
    ),
    Case(
        "emulate-object-array-of-none-and-text",
        lambda tmp: _emulate(np.array([[None, "1", "x"]] * 4, dtype=object)),
        r"x must be an array of numbers, but the object given could not be converted",
    ),
    Case(
        "weighted-events-path-string-for-points",
        lambda tmp: _weighted_events("points.npy"),
        r"WeightedEvents\.x must be an array of numbers, got the str 'points\.npy'",
    ),
    Case(
        "device-dsp-nan",
        lambda tmp: _device(dsp=float("nan")),
        r"Device 'my board': dsp must be an integer >= 1, got nan",
    ),
    Case(
        "device-lut-string",
        lambda tmp: _device(lut="10k"),
        r"Device 'my board': lut must be an integer >= 1, got '10k'",
    ),
    Case(
        "export-to-unwritable-folder",
        _write_to(unwritable_folder),
        r"cannot write '[^']*/rates\.csv': .*choose a folder you can write to",
    ),
    Case(
        "export-under-a-file",
        _write_to(lambda t: write(t, "plain-file", "")),
        r"cannot write '[^']*plain-file/rates\.csv'",
        guard=True,
    ),
    Case("negative-seed-autoencoder-config", lambda tmp: _ae_seed(-1), r"seed must be .*got -1"),
    Case("negative-seed-fast-simulation", lambda tmp: _resonance(-3), r"seed must be .*got -3"),
    Case("negative-seed-sample-split", lambda tmp: _split(-1), r"seed must be .*got -1"),
    Case("negative-seed-unweighting", lambda tmp: _unweight(-5), r"seed must be .*got -5"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_the_project_error_naming_the_input(case: Case, tmp_path: Path) -> None:
    with pytest.raises(case.error) as info:
        case.call(tmp_path)
    assert isinstance(info.value, PrecmlError), type(info.value).__mro__
    assert info.value.__class__.__module__ == "precml_widgets.errors"
    message = str(info.value)
    assert re.search(case.match, message, flags=re.S), message
    assert not (tmp_path / "executed").exists(), "a bad input executed code"
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.is_file()]
    assert not leftovers, f"partial files left behind: {leftovers}"


def test_the_corpus_is_large_and_its_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 25


# --------------------------------------------------------------------------- cheap refusals


def test_absurd_safetensors_metadata_is_refused_in_under_a_second_and_a_few_mb(tmp_path):
    """Before issue 11 this 30000x30000 request built the network first: 12-25 s and 7 GB."""
    from precml_widgets.anomaly.model import load_autoencoder

    path = autoencoder_file(tmp_path, "huge.safetensors", hidden=[30000, 30000])
    assert path.stat().st_size < 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError, match="parameters"):
        load_autoencoder(path)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 5e6, (seconds, peak)


def test_valid_reuse_factors_of_a_huge_layer_are_cheap_and_equal_hls4mls_rule():
    """hls4ml loops over every R up to n_in * n_out (9e8 here); precml's divisor walk does not."""
    from precml_widgets.fpga.reuse import valid_reuse_factors

    hls4ml = pytest.importorskip("hls4ml")
    backend = hls4ml.backends.get_backend("Vivado")
    for n_in, n_out in [(1, 1), (3, 7), (16, 64), (24, 18), (40, 40), (274, 8), (300, 200)]:
        assert valid_reuse_factors(n_in, n_out) == tuple(
            backend.get_valid_reuse_factors(n_in, n_out)
        )
    t0 = time.perf_counter()
    valid = valid_reuse_factors(30000, 30001)
    assert time.perf_counter() - t0 < 0.5 and valid[0] == 1
    # the largest layer accepted, and a prime width near it: milliseconds, not 1e9 steps
    for n_in, n_out in [(65536, 65536), (4_294_967_291, 1), (65521, 65519)]:
        t0 = time.perf_counter()
        valid = valid_reuse_factors(n_in, n_out)
        assert time.perf_counter() - t0 < 0.5, (n_in, n_out)
        assert all(n_in * n_out % rf == 0 for rf in valid) and valid[0] == 1
    # two primes: R = 65519 < n_in leaves 65521 multipliers, not a multiple of n_out (refused);
    # R = n_in and R = n_in * n_out pass every clause of the rule
    assert valid_reuse_factors(65521, 65519) == (1, 65521, 65521 * 65519)


def test_the_divisor_walk_equals_hls4mls_rule_by_brute_force():
    """Without hls4ml: every R up to n_in * n_out, by hls4ml 1.x's
    ``FPGABackend._validate_reuse_factor`` (copied here), on a grid of shapes."""
    import math

    from precml_widgets.fpga.reuse import valid_reuse_factors

    def accepted(n_in: int, n_out: int, rf: int) -> bool:
        multiplier_limit = math.ceil((n_in * n_out) / min(n_in, rf))
        _assert = ((multiplier_limit % n_out) == 0) or (rf >= n_in)
        _assert = _assert and (((rf % n_in) == 0) or (rf < n_in))
        return _assert and (((n_in * n_out) % rf) == 0)

    for n_in in (1, 2, 3, 4, 6, 12, 16, 25, 49, 60):
        for n_out in (1, 2, 5, 8, 9, 12, 36, 64):
            brute = [r for r in range(1, n_in * n_out + 1) if accepted(n_in, n_out, r)]
            assert valid_reuse_factors(n_in, n_out) == tuple(brute), (n_in, n_out)


def test_a_truncated_real_root_file_is_a_clear_error(tmp_path):
    from precml_widgets.data.root import read_branches

    skhep = pytest.importorskip("skhep_testdata")
    source = Path(skhep.data_path("uproot-Zmumu.root"))
    broken = tmp_path / "Zmumu-truncated.root"
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    with pytest.raises(InvalidInputError, match=r"Zmumu-truncated\.root"):
        read_branches(broken, "events", ["M"])


# --------------------------------------------------------------------------- emulation cache


def _entry(tmp: Path, emulated: np.ndarray, reference: np.ndarray, predict_s: float = 0.5):
    from precml_widgets.fpga import cache

    arrays = {"emulated": emulated, "reference": reference}
    cache.save_entry("k" * 64, arrays, {"predict_s": predict_s}, tmp)
    return cache


GOOD = np.ones((4, 5), np.float32)


@pytest.mark.parametrize(
    ("emulated", "reference", "predict_s", "why"),
    [
        (np.full((4, 5), np.nan, np.float32), GOOD, 0.5, "emulated holds NaN"),
        (GOOD, GOOD[:, :3], 0.5, r"differ in shape"),
        (GOOD[:3], GOOD[:3], 0.5, r"holds 3 events, not the 4"),
        (GOOD.ravel(), GOOD, 0.5, r"not float32 \(n_events, n_out\)"),
        (GOOD.astype(np.float64), GOOD, 0.5, r"float64"),
        (GOOD, GOOD, float("nan"), r"predict_s nan"),
    ],
    ids=["nan", "shape-mismatch", "wrong-event-count", "1-D", "float64", "nan-seconds"],
)
def test_a_well_formed_but_wrong_cache_entry_is_a_miss_with_a_warning(
    tmp_path, emulated, reference, predict_s, why
):
    cache = _entry(tmp_path, emulated, reference, predict_s)
    with pytest.warns(RuntimeWarning, match=f"ignoring the emulation cache entry.*{why}"):
        assert cache.load_entry("k" * 64, tmp_path, n_events=4) is None


def test_a_good_cache_entry_is_a_silent_hit(tmp_path):
    cache = _entry(tmp_path, GOOD, GOOD * 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arrays, meta = cache.load_entry("k" * 64, tmp_path, n_events=4)
    assert np.array_equal(arrays["reference"], GOOD * 0.5) and meta["predict_s"] == 0.5


def test_a_pickle_bearing_cache_entry_is_never_unpickled(tmp_path):
    from precml_widgets.fpga import cache

    key = "p" * 64
    np.savez(
        tmp_path / f"{key}.npz",
        meta=np.array(json.dumps({"format": "precml-emulation/1", "key": key})),
        emulated=np.array([_Boom(tmp_path / "executed")], dtype=object),
    )
    with pytest.warns(RuntimeWarning, match=r"cannot be read \(ValueError"):
        assert cache.load_entry(key, tmp_path) is None
    assert not (tmp_path / "executed").exists()


def _corrupt_deflate(path: Path, member: str) -> None:
    """Make ``member``'s deflate stream of the zip ``path`` start with an invalid block type."""
    import zipfile

    data = bytearray(path.read_bytes())
    offset = zipfile.ZipFile(path).getinfo(member).header_offset
    name_len = int.from_bytes(data[offset + 26 : offset + 28], "little")
    extra_len = int.from_bytes(data[offset + 28 : offset + 30], "little")
    data[offset + 30 + name_len + extra_len] = 0x07  # BFINAL=1, BTYPE=11 (reserved)
    path.write_bytes(bytes(data))


def test_damaged_or_foreign_cache_entries_are_misses_with_a_warning(tmp_path):
    """zlib errors, a meta JSON nested too deeply, and another program's .npz: each one a
    warned miss, never a raw exception or a silent None."""
    from precml_widgets.fpga import cache

    key = "z" * 64
    path = tmp_path / f"{key}.npz"
    meta = json.dumps({"format": "precml-emulation/1", "key": key, "predict_s": 0.5})
    np.savez_compressed(path, meta=np.array(meta), emulated=GOOD, reference=GOOD)
    assert cache.load_entry(key, tmp_path) is not None
    _corrupt_deflate(path, "emulated.npy")
    with pytest.warns(RuntimeWarning, match=r"ignoring the emulation cache entry.*error"):
        assert cache.load_entry(key, tmp_path) is None
    np.savez(path, meta=np.array("[" * 100_000), emulated=GOOD, reference=GOOD)
    with pytest.warns(RuntimeWarning, match=r"cannot be read \(RecursionError"):
        assert cache.load_entry(key, tmp_path) is None
    np.savez(path, meta=np.array(json.dumps({"format": "other/1"})), x=GOOD)
    with pytest.warns(RuntimeWarning, match=r"not a precml 'precml-emulation/1' entry"):
        assert cache.load_entry(key, tmp_path) is None


def test_an_unwritable_cache_folder_warns_and_keeps_the_result(tmp_path):
    from precml_widgets.fpga import cache

    folder = write(tmp_path, "not-a-folder", "")  # mkdir fails for every user, root included
    with pytest.warns(RuntimeWarning, match=r"not cached: cannot write .*not-a-folder.*PRECML_"):
        assert cache.try_save_entry("k" * 64, {"emulated": GOOD}, {}, folder) is None
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-folder"]  # no partial file


@pytest.mark.slow
def test_emulate_keeps_its_result_without_a_cache_and_replaces_a_poisoned_entry(tmp_path):
    """The ~10 s compile is not lost when the cache folder cannot be written, and a NaN
    entry is recomputed and overwritten (g++ needed)."""
    from precml_widgets.fpga.convert import DeployConfig
    from precml_widgets.fpga.emulate import emulate

    pytest.importorskip("hls4ml")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    x = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    folder = write(tmp_path, "not-a-folder", "")
    with pytest.warns(RuntimeWarning, match="not cached"):
        result = emulate(model, x, DeployConfig(), cache_folder=folder)
    assert result.emulated.shape == (50, 2) and not result.cached
    assert result.max_abs_diff < 0.1  # ap_fixed<16,6> of a 3->2 linear layer

    # a NaN entry under the right key: a warned miss, recomputed, overwritten, then a hit
    from precml_widgets.fpga import cache

    config = DeployConfig()
    key = cache.cache_key(config.key(), model.eval(), x, cache.tool_versions(), (3,))
    poisoned = {"emulated": np.full((50, 2), np.nan, np.float32), "reference": result.reference}
    cache.save_entry(key, poisoned, {"predict_s": 0.1}, tmp_path)
    with pytest.warns(RuntimeWarning, match="emulated holds NaN or infinite values"):
        fresh = emulate(model, x, config, cache_folder=tmp_path)
    assert not fresh.cached and np.array_equal(fresh.emulated, result.emulated)
    again = emulate(model, x, config, cache_folder=tmp_path)
    assert again.cached and np.array_equal(again.emulated, result.emulated)


# --------------------------------------------------------------------------- VEGAS caveats


def test_vegas_on_a_100d_gauss_carries_a_warning_with_its_number():
    """Exact 0.96; vegas returns ~1e-15 +- 1e-15 (issue 11: 1.96e-29 +- 8.7e-30): it must warn."""
    from precml_widgets.integration.budget import CallBudget
    from precml_widgets.integration.toys import gauss
    from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas

    pytest.importorskip("vegas")
    integrand = gauss(100)
    with pytest.warns(RuntimeWarning, match="effective sample size"):
        result, _ = integrate_vegas(integrand, VegasConfig(budget=CallBudget(2000, 5, 5)))
    assert abs(result.pull(integrand.exact)) > 5  # the number is wrong ...
    assert any("heavy weight tail" in w for w in result.warnings)  # ... and says so


@pytest.mark.parametrize("seed", range(5))
def test_vegas_on_a_2d_gauss_does_not_warn(seed):
    """Correct integrations stay quiet (Q < 1e-3 fires once in a thousand runs)."""
    from precml_widgets.integration.budget import CallBudget
    from precml_widgets.integration.toys import gauss
    from precml_widgets.integration.vegas_baseline import VegasConfig, integrate_vegas

    pytest.importorskip("vegas")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result, _ = integrate_vegas(
            gauss(2), VegasConfig(budget=CallBudget(2000, 5, 5), seed=seed), event_count=2000
        )
    assert result.warnings == () and abs(result.pull(gauss(2).exact)) < 5


def test_vegas_caveats_fire_one_by_one():
    from precml_widgets.integration.result import IterationRecord
    from precml_widgets.integration.vegas_baseline import vegas_caveats

    good = [IterationRecord(100, 1.0, 0.01, np.nan)] * 4
    assert vegas_caveats(0.3, good, np.ones(100)) == ()
    (q,) = vegas_caveats(1e-5, good, np.ones(100))
    assert "disagree (Q = 1e-05" in q
    tail = np.ones(1000)
    tail[0] = 1e5
    (ess,) = vegas_caveats(0.3, good, tail)
    fraction = tail.sum() ** 2 / (tail.size * (tail**2).sum())  # 1.02e-3
    assert f"effective sample fraction is {fraction:.2g} (< 0.01)" in ess
    assert f"largest weight is {1e5 / tail.mean():.3g} x the mean" in ess  # 990
