"""The metric registry is the one list of metric names: the config schema's enums and the pipeline follow it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml
from scipy.spatial.distance import pdist

from gutskin.diversity import phylogeny, registry
from gutskin.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_the_schema_lists_no_metric_names():
    # the registry is the one list: a second one in the schema would have to be kept in step by hand
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    for key in registry.metric_names():
        assert "enum" not in schema["properties"][key]["items"], key


def test_config_metrics_are_checked_against_the_registry():
    registry.check_config_metrics({"alpha_metrics": ["shannon"], "beta_metrics": ["jaccard"]})
    with pytest.raises(ConfigError) as err:
        registry.check_config_metrics(
            {
                "alpha_metrics": ["shannon"],
                "beta_metrics": ["braycurtis", "bray_curtis", "manhattan"],
            },
            source="my/config.yaml",
        )
    msg = str(err.value)
    assert "my/config.yaml" in msg and "key beta_metrics" in msg
    assert "['bray_curtis', 'manhattan']" in msg and "did you mean braycurtis?" in msg
    assert "weighted_unifrac" in msg  # the known names are listed
    with pytest.raises(ConfigError, match="key alpha_metrics"):
        registry.check_config_metrics({"alpha_metrics": ["chao1"]})


def test_schema_defaults_name_known_metrics_without_a_tree():
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    for key, table in (("alpha_metrics", registry.ALPHA), ("beta_metrics", registry.BETA)):
        default = schema["properties"][key]["default"]
        assert default and all(m in table and not table[m].needs_tree for m in default)


def test_tree_metrics_are_the_ones_phylogeny_implements():
    assert [m for m, s in registry.BETA.items() if s.needs_tree] == list(
        phylogeny.PHYLO_BETA_METRICS
    )
    assert [m for m, s in registry.ALPHA.items() if s.needs_tree] == list(
        phylogeny.PHYLO_ALPHA_METRICS
    )


def test_rarefied_flags():
    # robust Aitchison is scale-invariant and computed once on raw counts; the rest are averaged
    assert registry.RAREFIED_METRICS == (
        "braycurtis",
        "jaccard",
        "unweighted_unifrac",
        "weighted_unifrac",
    )
    assert all(spec.pcoa for spec in registry.BETA.values())


def test_every_entry_has_words_for_labels():
    for spec in (*registry.ALPHA.values(), *registry.BETA.values()):
        assert spec.label and spec.words and spec.label != spec.name


def test_unknown_metric_names_the_key():
    with pytest.raises(InputError, match="beta_metrics") as exc:
        registry.beta_metric("manhattan")
    assert "braycurtis" in str(exc.value)
    with pytest.raises(InputError, match="alpha_metrics"):
        registry.alpha_metric("chao1")
    with pytest.raises(InputError, match=r"\['manhattan', 'x'\]"):
        registry.check_beta_metrics(["braycurtis", "manhattan", "x"])


def test_tree_metric_without_tree_is_refused():
    m = sp.csr_array(np.array([[1.0, 2.0], [3.0, 0.0]]))
    with pytest.raises(InputError, match="needs a phylogenetic tree"):
        registry.beta_diversity(m, "weighted_unifrac")


@pytest.mark.parametrize(
    ("metric", "scipy_metric"), [("braycurtis", "braycurtis"), ("jaccard", "jaccard")]
)
def test_dispatch_reaches_the_named_function(metric, scipy_metric):
    x = np.array([[1, 0, 3, 2], [0, 4, 1, 1], [5, 5, 0, 0]], dtype=float)
    cond, ids = registry.beta_diversity(sp.csr_array(x), metric)
    want = pdist(x > 0 if metric == "jaccard" else x, scipy_metric)
    np.testing.assert_allclose(cond, want, rtol=0, atol=1e-12)
    assert list(ids) == ["0", "1", "2"]


def test_robust_aitchison_is_not_averaged_over_rarefactions():
    rng = np.random.default_rng(3)
    x = sp.csr_array(rng.integers(1, 30, size=(5, 8)).astype(float))
    once, ids = registry.mean_rarefied_beta(x, "robust_aitchison", 20, 3, seed=1)
    assert len(ids) == 5
    plain, _ = registry.beta_diversity(x, "robust_aitchison")
    np.testing.assert_array_equal(once, plain)  # every sample has >= 20 reads: none dropped
    # a different seed changes nothing for a metric that is computed once
    again, _ = registry.mean_rarefied_beta(x, "robust_aitchison", 20, 3, seed=2)
    np.testing.assert_array_equal(once, again)
    # Bray–Curtis on the same table is rarefied: the seed matters
    a, _ = registry.mean_rarefied_beta(x, "braycurtis", 20, 3, seed=1)
    b, _ = registry.mean_rarefied_beta(x, "braycurtis", 20, 3, seed=2)
    assert not np.array_equal(a, b)


def test_alpha_labels_are_the_claims_words():
    # the claims print these labels; the registry's must match so that the claims can read them here
    from gutskin.claims.common import METRIC_WORDS

    assert {m: registry.ALPHA[m].label for m in METRIC_WORDS} == METRIC_WORDS
