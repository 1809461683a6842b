"""Deep links (widgets.deeplink): parse/format round trips, validation messages, and applying a
link to a headless Dashboard (fake evaluator) through its public widgets."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab import energy, zoo
from lab.techniques import schema
from widgets import Dashboard
from widgets import deeplink as dl
from widgets.deeplink import (
    DeepLink,
    LinkConfig,
    apply_config,
    config_of,
    format_query,
    parse_query,
)

MODELS = tuple(zoo.names())
COUNTRIES = tuple(sorted(energy.countries()))


def fake_evaluator(model, recipe, **kwargs):
    """lab.evaluate's signature, instant numbers (what is shown is not under test here)."""
    return SimpleNamespace(
        name=kwargs["name"],
        recipe=recipe.to_json(),
        label=recipe.describe(),
        split=kwargs["split"],
        effort=kwargs["effort"],
        n_images=2000,
        accuracy=0.9,
        artifact_bytes=1000,
        state_dict_bytes=4000,
        parameters=10,
        nonzero_parameters=10,
        resolution=28,
        flops=10,
        macs=5,
        latency_ms_p50=1.0,
        latency_ms_p95=1.0,
        throughput_ips=1.0,
        energy_kwh_per_1k=1e-6,
        co2_g_per_1k=1e-4,
        carbon_intensity_g_per_kwh=56.0,
        country=kwargs["country"],
        notes=[],
        threads=1,
        executes_as="fp32",
        energy_source="test",
        cached=False,
    )


@pytest.fixture
def dashboards():
    made = []

    def make(**kwargs):
        dash = Dashboard(model=kwargs.pop("model", "cnn"), evaluator=fake_evaluator, **kwargs)
        made.append(dash)
        return dash

    yield make
    for dash in made:
        dash.close()


@pytest.fixture(scope="module")
def pair():
    """Two dashboards kept across Hypothesis examples (building one loads the zoo models)."""
    source, target = (Dashboard(model="cnn", evaluator=fake_evaluator) for _ in range(2))
    yield source, target
    source.close()
    target.close()


# ------------------------------------------------------------------ pure parse / format

configs = st.builds(
    LinkConfig,
    model=st.none() | st.sampled_from(MODELS),
    sparsity=st.none() | st.floats(0.0, 1.0, allow_nan=False, exclude_max=True),
    structure=st.none() | st.sampled_from(dl.STRUCTURES),
    bits=st.none() | st.sampled_from(dl.BITS),
    granularity=st.none() | st.sampled_from(dl.GRANULARITIES),
    resolution=st.none() | st.integers(schema.RESOLUTION_MIN, schema.RESOLUTION_MAX),
    country=st.none() | st.sampled_from(COUNTRIES),
)


@given(configs)
def test_format_then_parse_gives_the_same_configuration(config):
    query = format_query(config)
    assert parse_query(query) == (config, [])
    assert parse_query("?" + query) == (config, [])
    given_keys = [k for k in dl.KEYS if getattr(config, k) is not None]
    assert [k for k, _ in parse_qsl(query)] == given_keys  # canonical order, nothing else


def _valid(config: LinkConfig) -> bool:
    return (
        (config.model is None or config.model in MODELS)
        and (config.sparsity is None or schema.SPARSITY.contains(config.sparsity))
        and (config.structure in (None, *dl.STRUCTURES))
        and (config.bits in (None, *dl.BITS))
        and (config.granularity in (None, *dl.GRANULARITIES))
        and (
            config.resolution is None
            or schema.RESOLUTION_MIN <= config.resolution <= schema.RESOLUTION_MAX
        )
        and (config.country is None or config.country in COUNTRIES)
    )


query_text = st.lists(
    st.tuples(
        st.sampled_from([*dl.KEYS, *dl.IGNORED, "colour", "Model", ""]),
        st.text(max_size=12)
        | st.sampled_from(["0.9", "4", "off", "14", "ind", "mobile", "channel", "nan", "-1"]),
    ),
    max_size=10,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@given(st.one_of(query_text, st.text(max_size=60)))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_query_gives_a_valid_configuration_and_messages_never_an_exception(query):
    config, problems = parse_query(query)
    assert _valid(config)
    assert all(isinstance(p, str) and p for p in problems)
    assert parse_query(format_query(config)) == (config, [])  # what was kept round-trips


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("sparsity=lots", "a fraction in [0, 1)"),
        ("sparsity=1.5", "a fraction in [0, 1)"),
        ("sparsity=1", "a fraction in [0, 1)"),
        ("sparsity=nan", "a fraction in [0, 1)"),
        ("bits=16", "an integer from 1 to 8, or off"),
        ("bits=4.0", "an integer from 1 to 8, or off"),
        ("resolution=1", "from 2 to 4096"),
        ("resolution=x", "from 2 to 4096"),
        ("structure=filters", "unstructured or channel"),
        ("granularity=row", "channel or tensor"),
        ("country=ATLANTIS", "ISO 3166 alpha-3"),
        ("country=XXX", "ISO 3166 alpha-3"),
        ("model=resnet", "one of " + ", ".join(MODELS)),
    ],
)
def test_a_bad_value_is_named_with_what_is_allowed_and_the_rest_still_applies(query, named):
    key = query.split("=")[0]
    rest = {"bits": ("4", 4), "country": ("ind", "IND"), "model": ("mlp", "mlp")}
    rest.pop(key, None)
    config, problems = parse_query(query + "".join(f"&{k}={v}" for k, (v, _) in rest.items()))
    assert len(problems) == 1 and named in problems[0] and problems[0].startswith(f"{key}=")
    assert getattr(config, key) is None
    for other, (_, value) in rest.items():
        assert getattr(config, other) == value  # country normalized to upper case


def test_unknown_repeated_and_jupyter_parameters():
    config, problems = parse_query("?token=abc&theme=dark&colour=red&bits=2&bits=3")
    assert config == LinkConfig(bits=3)
    assert problems == [
        "unknown parameter 'colour' ignored; allowed: " + ", ".join(dl.KEYS),
        "bits is given 2 times; the last one is used",
    ]
    assert parse_query("bits=off")[0].bits == 32 and format_query(LinkConfig(bits=32)) == "bits=off"
    assert parse_query("&".join(["bits=4"] * 100))[1] == [
        "the link has more than 64 parameters; none applied"
    ]
    long_value = "x" * 500  # quoted back shortened, never the whole input
    assert len(parse_query(f"model={long_value}")[1][0]) < 200


def test_own_model_names_are_allowed_and_escaped():
    config, problems = parse_query("model=my%20net%26co", models=["cnn", "my net&co"])
    assert (config.model, problems) == ("my net&co", [])
    assert format_query(config) == "model=my%20net%26co"


# ------------------------------------------------------------------ a headless Dashboard


def test_the_example_link_sets_the_dashboard_and_names_what_it_cannot_apply(dashboards):
    dash = dashboards()
    link = DeepLink(dash)
    problems = link.apply_query("?model=mobile&sparsity=0.9&bits=4&resolution=20&country=IND")
    assert (dash.model_picker.value, dash.sparsity.value, dash.bits.value) == ("mobile", 0.9, 4)
    assert dash.region.value == "IND"
    assert dash.resolution.value == 28  # 20 px is not offered: left where it was
    sizes = ", ".join(map(str, dash.resolution.sizes))
    assert problems == [f"resolution=20 ignored: mobile runs at {sizes} px"]
    assert link.problems == problems
    assert "resolution=20 ignored" in link.message.value and link.message.layout.display is None
    assert dash.wait(30)
    assert dash.measurement.label == "prune 90% unstructured · 4-bit channel"
    assert link.query == "model=mobile&sparsity=0.9&bits=4&country=IND"


def test_the_link_follows_the_sliders(dashboards):
    dash = dashboards()
    link = DeepLink(dash)
    assert link.query == "model=cnn&country=FRA"
    assert link.message.layout.display == "none"
    dash.sparsity.value = 0.5
    dash.sparsity.structure = "channel"
    dash.bits.value = 6
    dash.bits.granularity = "tensor"
    dash.resolution.value = 14
    dash.region.value = "DEU"
    assert link.query == (
        "model=cnn&sparsity=0.5&structure=channel&bits=6&granularity=tensor"
        "&resolution=14&country=DEU"
    )
    assert config_of(dash) == LinkConfig("cnn", 0.5, "channel", 6, "tensor", 14, "DEU")
    assert "href='?model=cnn&amp;sparsity=0.5&amp;structure=channel" in link.link.value
    assert "class='lab-copy-link" in link.link.value and "navigator.clipboard" in link.link.value
    dash.bits.value = 32  # back to off: no longer in the link
    assert "bits" not in link.query and "granularity" not in link.query


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    model=st.sampled_from(MODELS),
    sparsity=st.sampled_from([0.0, 0.05, 0.5, 0.7, 0.95]),
    structure=st.sampled_from(dl.STRUCTURES),
    bits=st.sampled_from(dl.BITS),
    granularity=st.sampled_from(dl.GRANULARITIES),
    size_index=st.integers(0, 8),
    country=st.sampled_from(["FRA", "IND", "USA", "NOR"]),
)
def test_a_copied_link_opens_the_same_configuration_elsewhere(
    pair, model, sparsity, structure, bits, granularity, size_index, country
):
    source, target = pair
    source.model_picker.value = model
    sizes = source.resolution.sizes
    for widget, name, value in (
        (source.region, "value", country),
        (source.sparsity, "structure", structure),
        (source.sparsity, "value", sparsity),
        (source.bits, "granularity", granularity),
        (source.bits, "value", bits),
        (source.resolution, "value", sizes[min(size_index, len(sizes) - 1)]),
    ):
        setattr(widget, name, value)
    query = DeepLink(source).query
    target_link = DeepLink(target)
    # a fresh page: every slider at its default (a link leaves out what is at the default)
    target_link.apply_query(
        "sparsity=0&structure=unstructured&bits=off&granularity=channel&resolution=28"
    )
    assert target_link.apply_query(query) == []
    # the same evaluation: model, grid and the Recipe the sliders make (structure or
    # granularity of a technique that is off do not matter and are not in the link)
    assert (target.model_picker.value, target.region.value, target.recipe) == (
        source.model_picker.value,
        source.region.value,
        source.recipe,
    )


def test_values_the_dashboard_does_not_offer(dashboards):
    dash = dashboards()
    problems = apply_config(dash, LinkConfig(sparsity=0.97, model="cnn"))
    assert problems == [
        "sparsity=0.97 ignored: this dashboard prunes at most 95 % (a fraction from 0 to 0.95)"
    ]
    assert dash.sparsity.value == 0
    problems = apply_config(dash, LinkConfig(sparsity=0.93))
    assert problems == ["sparsity=0.93 rounded to 0.95 (the slider moves in 5 % steps)"]
    assert dash.sparsity.value == 0.95
    assert apply_config(dash, LinkConfig(model="mine")) == [
        "model='mine' ignored: this dashboard offers " + ", ".join(dash.model_picker.options)
    ]


def test_request_query_reads_voilas_query_string(monkeypatch, dashboards):
    monkeypatch.setattr(dl, "_REQUEST", {})
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setenv("QUERY_STRING", "model=mlp&bits=3")
    dash = dashboards()
    link = DeepLink(dash)
    assert link.apply_request() == []
    assert (dash.model_picker.value, dash.bits.value) == ("mlp", 3)
    monkeypatch.setenv("QUERY_STRING", "model=cnn")  # one kernel serves one page: kept
    assert dl.request_query() == "model=mlp&bits=3"
    monkeypatch.setattr(dl, "_REQUEST", {})
    monkeypatch.delenv("QUERY_STRING")
    assert dl.request_query() == ""  # outside Voilà


def test_a_preheated_kernel_waits_for_the_visitors_request(monkeypatch):
    """Voilà's wait_for_request gives up when its websocket is slow to open: retried."""
    import voila.utils

    calls = []

    def flaky_wait_for_request(url=None):
        calls.append(url)
        if len(calls) == 1:
            raise OSError("connection refused")  # Voilà not answering yet
        if len(calls) == 3:  # the third try receives the request's variables
            monkeypatch.setenv("QUERY_STRING", "bits=5")

    monkeypatch.setattr(voila.utils, "wait_for_request", flaky_wait_for_request)
    monkeypatch.setattr(dl, "_REQUEST", {})
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("QUERY_STRING", "stale")  # from the server's environment: not the visitor's
    assert dl.request_query() == "bits=5"
    assert len(calls) == 3
    monkeypatch.setattr(dl, "_REQUEST", {})
    calls.clear()
    monkeypatch.setattr(voila.utils, "wait_for_request", lambda url=None: calls.append(url))
    assert dl.request_query() == ""  # never received: the page opens with the defaults
    assert len(calls) == dl.REQUEST_ATTEMPTS


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(-10, 200), st.integers(-5, 200)))
def test_a_sparsity_link_in_percent_is_refused_with_the_fraction_to_write(number):
    from lab.techniques.configs import PruneConfig

    config, problems = parse_query(f"sparsity={number}")
    if schema.SPARSITY.contains(number):
        assert config.sparsity == float(number) and problems == []
        return
    assert config.sparsity is None and problems[0].startswith(f"sparsity='{number}' ignored")
    hinted = "a percentage? write" in problems[0]
    assert hinted == (1 < number <= 100 and schema.SPARSITY.contains(number / 100))
    if hinted:  # the fraction the link suggests is one the recipe takes
        written = float(problems[0].split("write ")[1].split(" for ")[0])
        assert PruneConfig(written).sparsity == written
