"""The report's views: each turns the claim model and the run's files into what one section renders.

- :mod:`.ledger` — the claims ledger (one line per claim, effect bars on one scale);
- :mod:`.claim` — one section per claim (verdict, result, tests, figures, power, robustness);
- :mod:`.data` — datasets, files, samples step by step, sequencing depth;
- :mod:`.calibration` — calibration of the primary tests and the covariate coverage map;
- :mod:`.methods` — methods, limitations of this run, and the verdict changelog;
- :mod:`.reproducibility` — provenance, data sha256 and the files behind the report.
"""
