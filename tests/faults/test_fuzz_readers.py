"""N3 and the R-file fuzzing that held: readers fed mutated files raise InputError or read — nothing else.

Mutations (seeded, reproducible): truncation, byte flips, inserted tabs / quotes / line breaks / NUL
bytes, duplicated and deleted lines, an extra column. The only acceptable outcomes are a result or an
:class:`~gutskin.errors.InputError` that names the file; a ``KeyError``, ``IndexError``, ``ValueError``,
``UnicodeDecodeError`` or pandas error is a failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gutskin.errors import InputError
from gutskin.io import read_qiime_mapping, read_table
from gutskin.io.hmp_dacc import read_dacc_map, read_dacc_otu_table
from tests.unit.test_hmp_dacc import OTU_TEXT, PSN_TEXT

SEED = 20261207
N_MUTANTS = 60
RDATA = Path(__file__).resolve().parents[1] / "fixtures" / "rdata"
QIIME_TEXT = (
    "#SampleID\tBarcodeSequence\tLinkerPrimerSequence\tBODY_SITE\tAGE\tDescription\n"
    "S1\tAAAA\tGTGC\tUBERON:feces\t34\tfirst\n"
    "S2\tCCCC\tGTGC\tUBERON:skin\tno_data\tsecond\n"
    "S3\tGGGG\tGTGC\tUBERON:feces\t51\tthird\n"
)
INSERTS = [b"\t", b'"', b"\n", b"\r", b"\0", b"\xff\xfe", b"#", b"NA", b"\t\t\t", b"'"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    pos = rng.randrange(len(data) + 1)
    if kind == 0:
        return data[:pos]
    if kind == 1 and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
    if kind == 2:
        return data[:pos] + rng.choice(INSERTS) + data[pos:]
    lines = data.split(b"\n")
    j = rng.randrange(len(lines))
    if kind == 3:
        return b"\n".join([*lines[:j], lines[j], *lines[j:]])
    if kind == 4:
        return b"\n".join(lines[:j] + lines[j + 1 :])
    return b"\n".join(line + b"\textra" if k == j else line for k, line in enumerate(lines))


def fuzz(tmp_path: Path, name: str, original: bytes, read: Callable[[Path], object]) -> int:
    rng = random.Random(f"{SEED}-{name}")
    errors = 0
    for k in range(N_MUTANTS):
        p = tmp_path / f"{k}-{name}"
        p.write_bytes(mutate(original, rng))
        try:
            read(p)
        except InputError as exc:
            errors += 1
            assert str(p) in str(exc) or p.name in str(exc), exc
    return errors


@pytest.mark.fault(
    "N3 fuzzed HMP DACC files",
    "every mutant of a DACC map and OTU table is read or refused with an InputError naming the file",
    before="new",
)
def test_fuzzed_hmp_dacc(tmp_path: Path) -> None:
    fuzz(tmp_path, "map.txt", PSN_TEXT.encode(), lambda p: read_dacc_map(p, missing_values=["NA"]))
    fuzz(tmp_path, "otu.txt", OTU_TEXT.encode(), read_dacc_otu_table)


@pytest.mark.fault(
    "N3 fuzzed QIIME mapping files",
    "every mutant is read or refused with an InputError naming the file",
    before="new",
)
def test_fuzzed_qiime_mapping(tmp_path: Path) -> None:
    errors = fuzz(tmp_path, "map.txt", QIIME_TEXT.encode(), read_qiime_mapping)
    assert errors > 0  # the mutations do break files


@pytest.mark.fault(
    "H3 fuzzed R data files (.rds/.rda)",
    "every mutant is read or refused with an InputError naming the file",
    before="held",
)
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("phyloseq_counts_plain.rds", "phyloseq_rds"),
        ("phyloseq_counts.rds", "phyloseq_rds"),
        ("workspace.rda", "phyloseq_rda"),
        ("microbiome_list.rds", "rds_microbiome_list"),
    ],
)
def test_fuzzed_r_files(tmp_path: Path, name: str, fmt: str) -> None:
    errors = fuzz(tmp_path, name, (RDATA / name).read_bytes(), lambda p: read_table(p, fmt))
    assert errors > 0
