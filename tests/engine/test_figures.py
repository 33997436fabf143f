"""A group's figure declaration (engine/figures.py): every shipped one names its axes and series and
reads real metrics; a bad one is refused naming the file and the key; the numbers drawn are the
records' (Figure 5's SNR against k, Theorem 1's variance against d, one panel per k, pictures at steps)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from engine.catalog import load_preset
from engine.events import Metrics, RunFinished, RunStarted, Snapshot
from engine.figures import COLOURS, STEP, figure_data
from engine.groups import GroupPreset
from engine.presets import PresetError, preset_paths
from engine.registry import get_family
from engine.state import RunState


def shipped_groups() -> list[GroupPreset]:
    found = [load_preset(name) for name in preset_paths()]
    return [g for g in found if isinstance(g, GroupPreset)]


def state(label: str, family: str, series: dict[str, list[tuple[int, float]]], snaps=()) -> RunState:
    events = [
        RunStarted(
            run_id=label, t=0.0, family=family, config={}, seed=0, device="cpu", device_name="cpu", total_steps=9
        )
    ]
    for name, points in series.items():
        events += [Metrics(run_id=label, t=0.0, step=s, values={name: v}) for s, v in points]
    events += list(snaps)
    events.append(RunFinished(run_id=label, t=0.0, step=9, status="completed", message=""))
    return RunState.from_events(events, label=label)


def test_every_shipped_group_declares_a_figure_naming_its_axes_and_every_series():
    groups = shipped_groups()
    assert {g.name for g in groups} >= {"fig-parity", "thm-variance", "fig-tuples", "fig-stocks", "fig-snr", "fig-pwl"}
    for group in groups:
        figure = group.figure
        assert figure is not None and figure.declared, f"{group.name}: no [figure] table"
        assert figure.name and figure.title, group.name
        assert figure.x.name and figure.y.name, f"{group.name}: an axis without a name"
        assert figure.series and all(s.name for s in figure.series), f"{group.name}: a series without a name"
        assert all(s.colour in ("", *COLOURS) for s in figure.series)
        assert all(r.name for r in figure.references), group.name
    names = [g.figure.name for g in groups]
    assert len(names) == len(set(names)), "two groups write the same figure files"


def test_the_papers_figures_are_declared_as_the_paper_draws_them():
    snr = load_preset("fig-snr").figure
    assert snr.x.quantity == "k" and snr.x.values == (1, 2, 3, 4) and snr.y.log
    colours = {s.name: s.colour for s in snr.series}
    assert colours["end-to-end"] == "red" and colours["decomposition"] == "blue"
    assert {r.name for r in snr.references} == {"float32 precision", "estimator's resolution"}
    theorem = load_preset("thm-variance").figure
    assert theorem.x.quantity == "d" and [r.metric for r in theorem.references] == ["target_var_bound"]
    tuples = load_preset("fig-tuples").figure
    assert [title for title, _ in tuples.panels()] == ["k = 1", "k = 2", "k = 3", "k = 4"]
    assert [s.run for s in tuples.panels()[2][1]] == ["k = 3, end-to-end", "k = 3, decomposition"]
    assert load_preset("fig-pwl").figure.picture.steps == (500, 10000, 50000)
    assert load_preset("fig-flat").figure.x.quantity == "r" and load_preset("fig-parity").figure.x.quantity == STEP


GROUP = '[[runs]]\nlabel = "a"\npreset = "parity5"\n[[runs]]\nlabel = "b"\npreset = "parity10"\n'


def test_every_shipped_group_quotes_the_papers_caption():
    """Each figure carries the paper's words for the gallery (docs/gallery.md), the talk and the report:
    a figure of the paper its own caption ("Figure 3: ..."); a result without one the text it checks."""
    for group in shipped_groups():
        caption = group.figure.caption
        assert len(caption) > 40, f"{group.name}: [figure] has no caption quoting the paper"
        assert "  " not in caption and "\\" not in caption and caption == caption.strip(), group.name
        number = re.fullmatch(r"figure-(\d+)", group.figure.name)
        if number:  # a figure of the paper: its caption, as the paper begins it
            assert caption.startswith(f"Figure {number.group(1)}: "), (group.name, caption[:40])
        else:  # the paper draws none: the caption says so, and quotes it
            assert "the paper draws no figure" in caption and "“" in caption, group.name


def test_a_caption_is_optional_and_must_be_text(tmp_path):
    figure = 'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a", run = "a" }]\n'
    path = tmp_path / "mine.toml"
    path.write_text(GROUP + "[figure]\n" + figure)
    assert load_preset(str(path)).figure.caption == ""
    path.write_text(GROUP + "[figure]\n" + figure + 'caption = """\\\n    Figure 9: words, \\\n    more words."""\n')
    assert load_preset(str(path)).figure.caption == "Figure 9: words, more words."
    path.write_text(GROUP + "[figure]\n" + figure + "caption = 3\n")
    with pytest.raises(PresetError, match="figure.caption"):
        load_preset(str(path))


@pytest.mark.parametrize(
    ("figure", "message"),
    [
        ('name = "f"\ntitle = "t"\nx = { name = "step" }\n', "figure.y: missing"),
        (
            'name = "f"\ntitle = "t"\nx = { quantity = "step" }\ny = { name = "acc" }\nseries = [{ name = "a", run = "a" }]',
            "figure.x.name: missing",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ run = "a" }]',
            "figure.series[1].name: missing",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a", run = "c" }]',
            "figure.series[1].run: no run is labelled 'c'",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "snr" }\nseries = [{ name = "a", run = "a" }]',
            "figure.series[1].metric: 'snr' is not a metric of 'a'",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a", run = "a", colour = "pink" }]',
            "figure.series[1].colour: 'pink' is not one of",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a" }]',
            "figure.series[1].run: missing (the group has 2 runs",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a", run = "a" }]\nreferences = [{ name = "chance" }]',
            "figure.references[1].give exactly one of",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\npanels = { vary = "k" }\nseries = [{ name = "a", run = "a" }]',
            "figure.panels: give vary",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s" }\ny = { name = "y" }\npicture = { snapshot = "curves", runs = ["z"] }\nseries = [{ name = "a" }]',
            "figure.picture.runs: no run is labelled 'z'",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s" }\ny = { name = "y" }\npicture = { snapshot = "curves", runs = ["a"] }\nseries = [{ name = "a" }]',
            "figure.series[1].match: missing",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s", quantity = "step" }\ny = { name = "acc", quantity = "test_acc" }\nseries = [{ name = "a", run = "a" }]\nseeds = "median"',
            "figure.seeds: 'median' is not one of 'mean', 'each'",
        ),
        (
            'name = "f"\ntitle = "t"\nx = { name = "s" }\ny = { name = "y" }\nsries = []',
            "figure.sries: unknown setting (did you mean series",
        ),
    ],
)
def test_a_bad_figure_is_refused_naming_the_file_and_the_key(tmp_path, figure, message):
    path = tmp_path / "mine.toml"
    path.write_text(GROUP + "[figure]\n" + figure + "\n")
    with pytest.raises(PresetError) as error:
        load_preset(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_group_without_a_figure_gets_one_from_its_plot(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('plot = ["test_acc"]\n' + GROUP)
    figure = load_preset(str(path)).figure
    assert not figure.declared and figure.y.name == get_family("parity").metric("test_acc").label
    assert [s.name for s in figure.series] == ["a", "b"] and [r.value for r in figure.references] == [0.5]


def test_figure_5_is_the_snr_against_k_with_its_reference_lines():
    figure = load_preset("fig-snr").figure
    run = state(
        "SNR sweep",
        "tuple_snr",
        {
            "e2e_k1": [(1, 1e-2), (2, 2e-2)],
            "e2e_k2": [(2, 1e-4)],
            "e2e_k3_upper": [(2, 5e-5)],
            "dec_k1": [(2, 0.3)],
            "dec_k2": [(2, 0.31)],
            "dec_k3": [(2, 0.29)],
            "resolution": [(2, 5e-5)],
        },
    )
    data = figure_data(figure, {"SNR sweep": run})
    (panel,) = data.panels
    lines = {line.name: line for line in panel.lines}
    assert lines["end-to-end"].points == [(1.0, 2e-2), (2.0, 1e-4)]  # each k's last value, x = k
    assert lines["end-to-end, upper bound"].points == [(3.0, 5e-5)] and lines["end-to-end, upper bound"].dashed
    assert lines["decomposition"].colour == "blue" and len(lines["decomposition"].points) == 3
    assert dict(panel.levels) == {"float32 precision": pytest.approx(1.19e-7, rel=1e-2), "estimator's resolution": 5e-5}
    assert [line.name for line in data.legend()][-2:] == ["float32 precision", "estimator's resolution"]


def test_theorem_1_draws_the_variance_and_its_bound_against_d():
    figure = load_preset("thm-variance").figure
    run = state(
        "exact variance vs d",
        "parity_variance",
        {"d": [(1, 2), (2, 3)], "target_var": [(1, 0.1), (2, 0.04)], "target_var_bound": [(1, 0.2), (2, 0.1)]},
    )
    (panel,) = figure_data(figure, {"exact variance vs d": run}).panels
    assert [(line.name, line.points, line.reference) for line in panel.lines] == [
        ("variance (exact)", [(2, 0.1), (3, 0.04)], False),
        ("Theorem 1's bound G^2 / 2^d", [(2, 0.2), (3, 0.1)], True),
    ]


def test_one_panel_per_k_and_each_seed_its_own_line_where_learning_is_luck():
    figure = load_preset("fig-tuples").figure
    assert figure.seeds == "each"  # k = 2's learners jump and the rest stay: a mean would draw a slow rise
    states = {
        "k = 1, end-to-end": state("k = 1, end-to-end", "tuples", {"test_acc": [(10, 0.9)]}),
        "k = 2, end-to-end (seed 0)": state("s0", "tuples", {"test_acc": [(10, 0.5), (20, 0.6)]}),
        "k = 2, end-to-end (seed 1)": state("s1", "tuples", {"test_acc": [(10, 0.7), (20, 1.0)]}),
    }
    data = figure_data(figure, states)
    panels = data.panels
    assert [p.title for p in panels] == ["k = 1", "k = 2", "k = 3", "k = 4"]
    assert panels[0].lines[0].points == [(10.0, 0.9)] and panels[0].lines[0].colour == "red"
    end_to_end = [line for line in panels[1].lines if line.name == "end-to-end"]
    assert [line.points for line in end_to_end] == [[(10.0, 0.5), (20.0, 0.6)], [(10.0, 0.7), (20.0, 1.0)]]
    assert all(line.colour == "red" and line.one_seed for line in end_to_end)  # drawn thinner, see-through
    assert [line.name for line in data.legend()] == ["end-to-end", "chance"]  # each name once (no decomposition drawn)
    assert panels[3].empty and panels[3].note and panels[3].levels == [("chance", 0.5)]
    mean = figure_data(dataclasses.replace(figure, seeds="mean"), states).panels[1]  # the default
    assert [line.points for line in mean.lines if line.name == "end-to-end"] == [[(10.0, 0.6), (20.0, 0.8)]]


def test_pictures_are_the_snapshots_at_the_chosen_steps_under_the_declared_names():
    figure = load_preset("fig-pwl").figure

    def curves(step):
        series = [
            {"label": "curve 1", "group": "original", "x": [0, 1], "y": [0.0, 1.0]},
            {"label": "decoded 1", "group": "decoded", "x": [0, 1], "y": [0.1, 0.9]},
        ]
        return Snapshot(run_id="r", t=0.0, step=step, name="curves", kind="lines", data={"series": series})

    history = {"conv": [curves(0), curves(500), curves(5000), curves(10000)], "linear": [curves(0), curves(600)]}
    states = {label: state(label, "pwl", {}) for label in ("linear", "conv")}
    data = figure_data(figure, states, history)
    panels = data.panels
    assert [p.title for p in panels] == [
        "linear, step 0",  # the latest at or before 500
        "linear, step 600",  # it ended before 10,000: its last, once
        "conv, step 500",
        "conv, step 10,000",
        "conv, conditioned",  # nothing recorded: said on its panel
        "",  # a spacer: one row per learner
        "autoencoder",
        "",
    ]
    assert data.columns == 2 and panels[5].spacer
    lines = panels[0].lines
    assert [(line.name, line.colour) for line in lines] == [("original", "blue"), ("decoded", "red")]
    assert panels[4].note and panels[6].note and not panels[0].note
