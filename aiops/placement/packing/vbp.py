"""Vector bin packing instances in the VPSolver ``.vbp`` format, plus their published bounds.

The Vectorpack benchmark (Mommessin, Erlebach, Shakhlevich 2024) ships its instances as
``.tar.gz`` archives and the lower bound / optimum / best published heuristic results as TSV
files.  Instances are read straight out of the archives so the shared data folder is never
copied or extracted into the repository.

Item order matters for verification: items are expanded in *file order*, each item type
repeated by its demand, and that is the order an assignment is reported in.
"""
from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.settings import Settings

COLLECTIONS = ("Panigrahy", "Triplet", "New")


@dataclass(frozen=True)
class KnownResult:
    """Published figures for one instance (-1 / None where unknown)."""

    lb: int
    opt: int | None
    best_overall: int | None = None
    best_families: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class VbpInstance:
    """One vector bin packing instance: identical bins, integer sizes, items expanded by demand."""

    name: str
    capacity: np.ndarray  # (d,) int64
    sizes: np.ndarray  # (n, d) int64, items in file order, each type repeated by demand
    item_type: np.ndarray  # (n,) index of the item type (line) each item came from
    known: KnownResult | None = None

    @property
    def n(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def d(self) -> int:
        return int(self.sizes.shape[1])

    @property
    def instance_class(self) -> str:
        return self.name.split("_")[0]


def parse_vbp(text: str, name: str = "instance", known: KnownResult | None = None) -> VbpInstance:
    """Parse VPSolver text: d, then d capacities, then m, then m lines of d sizes + demand."""
    tokens = text.split()
    if not tokens:
        raise ValueError(f"{name}: empty .vbp file")
    try:
        nums = [int(t) for t in tokens]
    except ValueError as exc:
        raise ValueError(f"{name}: non-integer token in .vbp file ({exc})") from None
    d = nums[0]
    if d < 1 or len(nums) < 2 + d:
        raise ValueError(f"{name}: bad header (d={d})")
    capacity = np.asarray(nums[1 : 1 + d], dtype=np.int64)
    m = nums[1 + d]
    body = nums[2 + d :]
    if len(body) != m * (d + 1):
        raise ValueError(f"{name}: expected {m} item lines of {d + 1} integers, got {len(body)} integers")
    table = np.asarray(body, dtype=np.int64).reshape(m, d + 1) if m else np.zeros((0, d + 1), np.int64)
    demand = table[:, d]
    if (demand < 0).any():
        raise ValueError(f"{name}: negative demand")
    # Sizes may be negative: the Caprara-style triplet generator derives the third item of a
    # perfect triple as capacity minus the other two, which can dip below zero in a dimension.
    item_type = np.repeat(np.arange(m), demand)
    sizes = table[item_type, :d]
    if (sizes > capacity).any():
        raise ValueError(f"{name}: an item is larger than the bin in some dimension")
    return VbpInstance(name=name, capacity=capacity, sizes=sizes, item_type=item_type, known=known)


def load_vbp_file(path: Path | str, known: KnownResult | None = None) -> VbpInstance:
    p = Path(path)
    return parse_vbp(p.read_text(encoding="utf-8"), name=p.stem, known=known)


def vbp_dir(settings: Settings | None = None) -> Path:
    return (settings or Settings()).data_dir / "placement" / "vbp"


def load_known(path: Path | str) -> dict[str, KnownResult]:
    """Read a ``*_summary_known.csv`` or ``*_base_OPT.csv`` TSV into name -> KnownResult."""
    df = pd.read_csv(path, sep="\t")
    if not {"instance_name", "LB", "OPT"} <= set(df.columns):
        raise ValueError(f"{path}: expected columns instance_name, LB, OPT; got {list(df.columns)}")
    families = [c for c in df.columns if c.startswith("best_") and c != "best_overall"]
    out: dict[str, KnownResult] = {}
    for r in df.to_dict("records"):
        opt = int(r["OPT"])
        best = r.get("best_overall")
        out[str(r["instance_name"])] = KnownResult(
            lb=int(r["LB"]),
            opt=opt if opt > 0 else None,
            best_overall=int(best) if best is not None and not pd.isna(best) and int(best) > 0 else None,
            best_families={c.removeprefix("best_"): int(r[c]) for c in families if int(r[c]) > 0},
        )
    return out


def known_results(collection: str, root: Path | None = None) -> dict[str, KnownResult]:
    """Published LB/OPT/best heuristics for a collection; summary file preferred, base_OPT as fallback."""
    root = root or vbp_dir()
    summary = root / f"{collection}_summary_known.csv"
    base = root / f"{collection}_base_OPT.csv"
    if summary.exists():
        return load_known(summary)
    if base.exists():
        return load_known(base)
    return {}


def iter_collection(collection: str, root: Path | None = None, with_known: bool = True) -> Iterator[VbpInstance]:
    """Yield every instance of ``<collection>_instances.tar.gz`` in a stable (sorted) order."""
    root = root or vbp_dir()
    archive = root / f"{collection}_instances.tar.gz"
    if not archive.exists():
        raise FileNotFoundError(f"{archive} not found (set AIOPS_DATA_DIR or fetch the Vectorpack data)")
    known = known_results(collection, root) if with_known else {}
    texts: dict[str, str] = {}
    with tarfile.open(archive, "r|gz") as tar:  # one streaming pass: gzip cannot seek back cheaply
        for member in tar:
            if member.isfile() and member.name.endswith(".vbp"):
                fh = tar.extractfile(member)
                if fh is not None:
                    texts[member.name] = fh.read().decode("utf-8")
    for path in sorted(texts):
        name = Path(path).stem
        yield parse_vbp(texts[path], name=name, known=known.get(name))


def load_collection(collection: str, root: Path | None = None) -> list[VbpInstance]:
    return list(iter_collection(collection, root))


def to_vbp_text(inst: VbpInstance) -> str:
    """Write an instance back in VPSolver format (one line per item, demand 1)."""
    lines = [str(inst.d), " ".join(map(str, inst.capacity.tolist())), str(inst.n)]
    lines += [" ".join(map(str, row.tolist())) + " 1" for row in inst.sizes]
    return "\n".join(lines) + "\n"
