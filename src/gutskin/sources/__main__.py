"""``python -m gutskin.sources``: discover what the services offer before declaring a dataset.

``studies --biome gut|skin|<lineage>``
    MGnify studies of a biome (API v2, v1 as fallback), tab-separated: accession, biome, title.
``phenotypes [--match TEXT]``
    GMrepo phenotypes, tab-separated: MeSH id, term.

Answers are cached like those of the fetch step (``--cache``, default ``resources/cache``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import GutskinError
from .gmrepo import DEFAULT_BASE_URL as GMREPO_URL
from .gmrepo import GMrepo
from .http import ApiClient, ApiSettings
from .mgnify import DEFAULT_BASE_URL as MGNIFY_URL
from .mgnify import list_studies


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m gutskin.sources", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--cache", default="resources/cache", help="cache directory (default: %(default)s)"
    )
    parser.add_argument(
        "--rate", type=float, default=2.0, help="requests per second (default: %(default)s)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("studies", help="MGnify studies of a biome")
    st.add_argument("--biome", required=True, help="gut, skin or a full lineage (root:…)")
    st.add_argument("--base-url", default=MGNIFY_URL)
    st.add_argument("--api", choices=["auto", "v2", "v1"], default="auto")
    ph = sub.add_parser("phenotypes", help="GMrepo phenotypes and their MeSH ids")
    ph.add_argument(
        "--match", default="", help="only terms containing this text (case-insensitive)"
    )
    ph.add_argument("--base-url", default=GMREPO_URL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    settings = ApiSettings(cache_dir=Path(args.cache), requests_per_second=args.rate)
    try:
        with ApiClient(settings) as client:
            if args.command == "studies":
                studies, paged, version = list_studies(
                    client, args.biome, base_url=args.base_url, api=args.api
                )
                for s in studies:
                    print(f"{s['accession']}\t{s['biome'] or ''}\t{s['title'] or ''}")
                note = "" if paged.complete else " (listing cut at max_pages)"
                print(f"# {len(studies)} studies from MGnify API {version}{note}", file=sys.stderr)
            else:
                for mesh, term in sorted(GMrepo(client, args.base_url).phenotypes().items()):
                    if args.match.lower() in term.lower():
                        print(f"{mesh}\t{term}")
    except GutskinError as exc:
        print(f"gutskin.sources: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
