"""gutskin: test the claims of a popular gut-skin-axis article against public microbiome data.

The package holds all analysis logic; the Snakemake workflow under ``workflow/`` only wires
files to these functions through the thin adapters in ``scripts/``.

Subpackages
-----------
fetch
    Download with sha256 verification, a mirror-first lookup and an atomic cache.
io
    Readers for BIOM 1.0 JSON / 2.1 HDF5 and QIIME mapping files; the canonical feature table.
harmonise
    Config-driven mapping of raw metadata to the canonical sample schema.
diversity
    Repeated rarefaction, alpha and beta diversity, PCoA, all sparse.
stats
    Regression, equivalence, power, paired cross-site tests and the verdict rubric.
claims
    One runner per analysis type; turns tables into claim results.
report
    The self-contained HTML report.
"""

__version__ = "0.1.0"
