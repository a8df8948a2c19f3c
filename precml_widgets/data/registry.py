"""The real data files precml knows by name, with provenance, licence, checksum and address.

Every entry either ships inside the package (``packaged``) or has a publisher address pinned to
a fixed version (a commit, a release folder) and a SHA-256, so that
``python -m precml_widgets.data fetch NAME`` can get it; nothing is downloaded implicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FETCH_COMMAND", "FILE_GROUPS", "KNOWN_FILES", "DataFile", "group_members", "known_file"]

#: The command that downloads known files by name (append the names, or ``--missing``).
FETCH_COMMAND = "python -m precml_widgets.data fetch"

# scikit-hep-testdata at the commit the shared copies were checked against (not ``main``).
_SKHEP_RAW = (
    "https://raw.githubusercontent.com/scikit-hep/scikit-hep-testdata/"
    "f51b8fb0aa3b3609996375a745eac8084472245f/src/skhep_testdata/data/"
)
_EXAMPLE_MODELS = (
    "https://raw.githubusercontent.com/fastmachinelearning/example-models/"
    "ce390f9a806dac2c254736c6113896c540e7447b/"
)
_ATLAS_2020 = "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020/4lep/Data/"
# The copy the registry's checksums were taken from (the 2020 release files, kept in a
# teaching repository): tried when the publisher's server fails or serves other bytes.
_ATLAS_MIRROR = (
    "https://raw.githubusercontent.com/TomStevo/IntroToMLATLASOpenData/"
    "b6cb45a6b47aaa762e2c3c35b3e939ef7303b768/4lep/Data/"
)
_HECTOR_PLATA = (
    "https://raw.githubusercontent.com/Hector-Plata/hls4ml-tutorial/"
    "4ac4f07a0edf530cde74aec53610e1e22a6ecc2d/"
)


@dataclass(frozen=True)
class DataFile:
    """One known data file.

    Attributes:
        name: short name used in code, e.g. ``"cms2010_zmumu"``.
        relpath: path below the data folder (``$PRECML_DATA``).
        sha256: checksum of the verified copy.
        size: bytes.
        description: what the file holds.
        real: True for recorded collision data, False for simulation.
        source: publisher and record.
        licence: the publisher's licence terms.
        url: the publisher's address, pinned to a version, where
            :func:`precml_widgets.data.fetch` downloads it from (empty for a packaged file).
        skhep_name: file name inside the ``scikit-hep-testdata==0.3.12`` wheel, if shipped there.
        mirrors: further addresses of the same bytes, tried in order when ``url`` fails or
            serves a file with another checksum.
        packaged: path below the ``precml_widgets`` package of a copy shipped inside it.
    """

    name: str
    relpath: str
    sha256: str
    size: int
    description: str
    real: bool
    source: str
    licence: str
    url: str
    skhep_name: str | None = None
    mirrors: tuple[str, ...] = ()
    packaged: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        """Every download address, publisher first."""
        return tuple(u for u in (self.url, *self.mirrors) if u)

    @property
    def fetch_command(self) -> str:
        """The shell command that downloads this file into the data folder."""
        return f"{FETCH_COMMAND} {self.name}"


_CMS_LICENCE = "CMS Open Data, CC0 1.0 waiver (https://opendata.cern.ch/docs/terms-of-use)"
_ATLAS_LICENCE = "ATLAS Open Data: see the publisher's terms of use (https://opendata.atlas.cern)"

KNOWN_FILES: dict[str, DataFile] = {
    f.name: f
    for f in [
        DataFile(
            name="cms2010_zmumu",
            relpath="root/uproot-Zmumu.root",
            sha256="8290ddc1f2b1f866f30df016558936da27107f7f5b87e574c741f2baab1bad64",
            size=178971,
            description=(
                "real CMS 2010 dimuon events (runs 148029/148031): 2304 entries of 500 collisions, "
                "one per muon-reconstruction pair, tree 'events'"
            ),
            real=True,
            source="CMS Open Data 2010 via scikit-hep-testdata (uproot-Zmumu.root)",
            licence=_CMS_LICENCE,
            url=_SKHEP_RAW + "uproot-Zmumu.root",
            skhep_name="uproot-Zmumu.root",
        ),
        DataFile(
            name="hep_tutorial_hzz",
            relpath="root/uproot-HZZ.root",
            sha256="baa852f7b801eee0fb7234f44864a20808d17d84fa44e712072fa881c423ad46",
            size=217945,
            description=(
                "simulated events in the CMS HEP-tutorial format (uproot-HZZ.root: the name "
                "suggests H -> ZZ; the file's MC-truth branches are empty), 2421 events, "
                "tree 'events'"
            ),
            real=False,
            source="CMS HEP tutorial (C. Sander, A. Schmidt) via scikit-hep-testdata",
            licence="scikit-hep-testdata, BSD-3-Clause",
            url=_SKHEP_RAW + "uproot-HZZ.root",
            skhep_name="uproot-HZZ.root",
        ),
        DataFile(
            name="cms2012_doublemu",
            relpath="root/Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
            sha256="6a71d6ca866b76c8d89689dfce2cc402aecd2aea0ff03a650db9fe78e60b8385",
            size=27643,
            description="real CMS 2012 DoubleMuParked data, 1000 events, RNTuple 'Events'",
            real=True,
            source="CMS Open Data record 12341 via scikit-hep-testdata",
            licence=_CMS_LICENCE,
            url=_SKHEP_RAW + "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
        ),
        *[
            DataFile(
                name=f"atlas2016_4lep_{period}",
                relpath=f"root/atlas_opendata_13TeV_4lep/data_{period.upper()}.4lep.root",
                sha256=sha,
                size=size,
                description=(
                    f"real ATLAS 2016 13 TeV collision data, period {period.upper()}, "
                    "4-lepton skim of the ATLAS Open Data 2020 release, tree 'mini'"
                ),
                real=True,
                source="ATLAS Open Data 13 TeV 2020 release (4lep skim)",
                licence=_ATLAS_LICENCE,
                url=f"{_ATLAS_2020}data_{period.upper()}.4lep.root",
                mirrors=(f"{_ATLAS_MIRROR}data_{period.upper()}.4lep.root",),
            )
            for period, sha, size in [
                ("a", "8a0de39015dcc46ec3e65fd56234bbb8809c0fb1e16e6511a7872627bb7b6675", 25826),
                ("b", "198d5f06b0f24cdf08f4a3342f142aa2ed3eded3f39ea8f18fb963b681fd1411", 60364),
                ("c", "3f1cd0a4fca42013f718bd219a043ec4fff0b7268707ea0894f6ce379e2f0c56", 84525),
                ("d", "7e103be7359e402032a5dbe01d3f5105fddbcc043bce3a187993fb99f7cc6e1e", 131190),
            ]
        ],
        DataFile(
            name="hls4ml_jet_tagger_weights",
            relpath="hls4ml/keras/KERAS_3layer_weights.h5",
            sha256="5d8dcf965c6b6ad58f921bf076482f17f94f828c1dae419674d93ef39a51c2dc",
            size=36096,
            description=(
                "trained weights (Keras 2 HDF5) of the hls4ml jet-tagging MLP 16 -> 64 -> 32 -> 32 "
                "-> 5 (Duarte et al., arXiv:1804.06913)"
            ),
            real=False,
            source="fastmachinelearning/example-models @ ce390f9a, keras/KERAS_3layer_weights.h5",
            licence="hls4ml example-models, Apache-2.0",
            url=_EXAMPLE_MODELS + "keras/KERAS_3layer_weights.h5",
        ),
        DataFile(
            name="hls4ml_synthesis_table",
            relpath="hls4ml/synthesis-reports/table.csv",
            sha256="96e18f834b5a62042c2e20b814fa9f388c50b86ff7155b43b93d1091fd580137",
            size=37596,
            description=(
                "57 real hls4ml HLS syntheses (Vivado/Vitis HLS, 9 parts) from public repositories:"
                " layers, settings and the reports' latency, interval and resources"
            ),
            real=True,
            source=(
                "public GitHub repositories of hls4ml projects, each row's repository, commit and "
                "folder in its columns repo, commit, subdir (fpga/synthesis_table_provenance.json)"
            ),
            licence="each source repository's own terms",
            url="",
            packaged="fpga/synthesis_table.csv",
        ),
        DataFile(
            name="hls4ml_jet_tagger_csynth",
            relpath=(
                "hls4ml/synthesis-reports/reports/Hector-Plata__hls4ml-tutorial__model_1_hls4ml_prj/"
                "myproject_csynth.xml"
            ),
            sha256="e766f85ebe97e3ed72b472cbe894c25f1b9dcd665ced6a50d10b2c48de308915",
            size=5978,
            description=(
                "the Vivado HLS C-synthesis report (XML) of the hls4ml jet tagger, ap_fixed<16,6> "
                "on a Xilinx U250 at 5 ns: one of the synthesis table's rows"
            ),
            real=True,
            source="Hector-Plata/hls4ml-tutorial @ 4ac4f07a, model_1/hls4ml_prj",
            licence="see the repository (https://github.com/Hector-Plata/hls4ml-tutorial)",
            url=_HECTOR_PLATA + "model_1/hls4ml_prj/myproject_prj/solution1/syn/report/"
            "myproject_csynth.xml",
        ),
    ]
}

#: Names that stand for several files read together (a sample split over files).
FILE_GROUPS: dict[str, tuple[str, ...]] = {
    "atlas2016_4lep": tuple(f"atlas2016_4lep_{p}" for p in "abcd"),
}


def group_members(name: str) -> tuple[str, ...]:
    """The registry names ``name`` stands for: a group's files, or ``(name,)`` for a file.

    Raises:
        InvalidInputError: ``name`` is neither a known file nor a group.

    Example:
        >>> group_members("atlas2016_4lep")[:2]
        ('atlas2016_4lep_a', 'atlas2016_4lep_b')
    """
    if name in FILE_GROUPS:
        return FILE_GROUPS[name]
    return (known_file(name).name,)


def known_file(name: str) -> DataFile:
    """Return the registry entry ``name``; an unknown name raises InvalidInputError listing them."""
    from precml_widgets.errors import InvalidInputError

    try:
        return KNOWN_FILES[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown data file name {name!r}; known names: {', '.join(sorted(KNOWN_FILES))}. "
            "Pass a path instead to read any other file."
        ) from None
