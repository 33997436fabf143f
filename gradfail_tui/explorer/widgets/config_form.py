"""The config form, generated from a family's knobs (engine.config.knobs): no per-family code.

Every field shows its default, what is allowed and the help text from the config class; a bad
value is marked at the field with the reason `Knob.parse` gives, and cross-field problems from
`build_config` (the config's `problems()`) at the field they name. After every edit the form
posts `FormValidated`; the app keeps Start disabled while there are problems.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.validation import ValidationResult, Validator
from textual.widgets import Label, Select, Static

from engine.config import BaseConfig, ConfigError, Knob, build_config, differences, knobs
from engine.presets import Preset
from engine.registry import FamilySpec
from gradfail_tui.explorer.choices import RunChoice
from gradfail_tui.explorer.messages import FormValidated
from gradfail_tui.explorer.widgets.rebuilt_form import FieldInput, RebuiltForm

SEED = Knob(
    name="seed", type=int, default=0, low=0, help="random seed: the same config, seed and device give the same numbers"
)
MAX_SEEDS = 64
SEEDS = Knob(
    name="seeds",
    type=int,
    default=1,
    low=1,
    high=MAX_SEEDS,
    help="train this many seeds (seed, seed+1, ...) and draw their mean with a min-max band; "
    "as lanes of one batched model where the family can, else one after another",
)
NO_PRESET = "-"
LABEL_MAX = 36


class KnobValidator(Validator):
    def __init__(self, knob: Knob) -> None:
        super().__init__()
        self.knob = knob

    def validate(self, value: str) -> ValidationResult:
        try:
            self.knob.parse(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


class ConfigForm(RebuiltForm):
    device_select = "field-device"

    def __init__(self, presets: list[Preset], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.presets = presets
        self.spec: FamilySpec | None = None
        self.fields: list[Knob] = []
        self.problems: list[str] = ["no family chosen yet"]
        self.applied_preset = NO_PRESET  # the preset whose values were last put in the fields
        self.border_title = "Settings"

    # -- building --------------------------------------------------------------------------
    def family_presets(self) -> list[Preset]:
        return [p for p in self.presets if self.spec and p.family == self.spec.name]

    async def load(self, spec: FamilySpec, preset: str | None = None) -> None:
        """Show the fields of `spec`, filled with its defaults, or with `preset`'s values."""
        self.spec = spec
        self.fields = knobs(spec.config_cls) + [SEED, SEEDS]
        options = [("family defaults", NO_PRESET)] + [(p.name, p.name) for p in self.family_presets()]
        widgets: list = [
            Static(
                f"[b]{escape(spec.title)}[/b]  ({escape(spec.paper_ref)})\n{escape(spec.claim)}", classes="family-info"
            ),
            self.select_row(
                "preset",
                options,
                NO_PRESET,
                "field-preset",
                self.part(Static("", id="preset-note", classes="note -blank")),
            ),
        ]
        widgets += [self._field(k) for k in self.fields]
        widgets += [
            self.device_row("where to train: auto takes the GPU when there is one"),
            self.part(Static("", id="form-problems", classes="problem")),
        ]
        await self.rebuild(widgets)
        self.scroll_home(animate=False)
        self.applied_preset = NO_PRESET
        if preset:
            self.parts["field-preset"].value = preset
            self.apply_preset(preset)
        self.check()

    def _field(self, k: Knob) -> Vertical:
        if k.choices or k.type is bool:
            choices = k.choices or ("true", "false")
            widget = Select(
                [(c, c) for c in choices],
                value=as_text(k.default),
                allow_blank=False,
                id=f"field-{k.name}",
                classes="value",
                compact=True,
            )
        else:
            widget = FieldInput(
                as_text(k.default),
                id=f"field-{k.name}",
                classes="value",
                validators=[KnobValidator(k)],
                select_on_focus=False,
                compact=True,
            )
        # In a narrow terminal only the focused field shows its help (see app.tcss).
        return self.part(
            Vertical(
                Horizontal(Label(k.name, classes="name"), self.part(widget), classes="row"),
                Static(
                    f"{escape(k.help)} [dim]· {escape(k.allowed())} · default {escape(as_text(k.default))}[/dim]",
                    classes="help",
                ),
                self.part(Static("", id=f"problem-{k.name}", classes="problem")),
                classes="field",
                id=f"row-{k.name}",
            )
        )

    # -- values ----------------------------------------------------------------------------
    def raw(self, name: str) -> str:
        return str(self.parts[f"field-{name}"].value)

    def set_raw(self, name: str, value: Any) -> None:
        self.parts[f"field-{name}"].value = as_text(value)

    def preset(self) -> Preset | None:
        chosen = self.raw("preset") if self.spec else NO_PRESET
        return next((p for p in self.family_presets() if p.name == chosen), None)

    def apply_preset(self, name: str) -> None:
        self.applied_preset = name
        chosen = next((p for p in self.family_presets() if p.name == name), None)
        values = chosen.values if chosen else {}
        for k in self.fields:
            if k is SEED:
                self.set_raw("seed", chosen.seed if chosen and chosen.seed is not None else 0)
            elif k is SEEDS:
                continue  # how many seeds is the person's choice, not the preset's
            else:
                self.set_raw(k.name, values.get(k.name, k.default))
        note = ""
        if chosen:
            note = escape(chosen.description) + (f"\n[i]paper:[/i] {escape(chosen.paper)}" if chosen.paper else "")
        self.parts["preset-note"].update(note)
        self.parts["preset-note"].set_class(not note, "-blank")

    @on(Select.Changed, "#field-preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        event.stop()
        # The Select also reports the value it was built with, later: that must not wipe edits
        # made in between. Only a change of preset puts a preset's values in the fields.
        if str(event.value) != self.applied_preset:
            self.apply_preset(str(event.value))
        self.check()

    def check(self) -> list[str]:
        """Validate every field, mark the bad ones, post FormValidated; returns the problems."""
        if self.spec is None:
            return self.problems
        field_problems: dict[str, str] = {}
        values: dict[str, Any] = {}
        for k in self.fields:
            try:
                values[k.name] = k.parse(self.raw(k.name))
            except ValueError as exc:
                field_problems[k.name] = str(exc)
        general: list[str] = []
        if not field_problems:
            try:
                build_config(self.spec.config_cls, {n: v for n, v in values.items() if n not in ("seed", "seeds")})
            except ConfigError as exc:
                for line in exc.problems:
                    name, sep, why = line.partition(":")
                    if sep and name in values:
                        field_problems[name] = why.strip()
                    else:
                        general.append(line)
        for k in self.fields:
            why = field_problems.get(k.name, "")
            self.parts[f"problem-{k.name}"].update(f"✗ {escape(why)}" if why else "")
            self.parts[f"row-{k.name}"].set_class(bool(why), "-invalid")
            self.parts[f"problem-{k.name}"].set_class(bool(why), "-shown")
        form_problems = self.parts["form-problems"]
        form_problems.update("\n".join(f"✗ {escape(p)}" for p in general))
        form_problems.set_class(bool(general), "-shown")
        self.problems = [f"{n}: {why}" for n, why in field_problems.items()] + general
        self.post_message(FormValidated(list(self.problems)))
        return self.problems

    def choice(self) -> RunChoice | None:
        """The validated run the form describes, or None while it has problems."""
        if self.spec is None or self.check():
            return None
        values = {k.name: k.parse(self.raw(k.name)) for k in self.fields if k not in (SEED, SEEDS)}
        config: BaseConfig = build_config(self.spec.config_cls, values)
        seed = SEED.parse(self.raw("seed"))
        preset = self.preset()
        base = build_config(self.spec.config_cls, preset.values) if preset else self.spec.config_cls()
        base_seed = (preset.seed or 0) if preset else 0
        changed = [f"{k}={as_text(v)}" for k, v in differences(config, base).items()]
        if seed != base_seed:
            changed.append(f"seed={seed}")
        name = preset.name if preset else self.spec.name
        label = " ".join([name, *changed])
        if len(label) > LABEL_MAX:
            label = label[: LABEL_MAX - 1] + "…"
        return RunChoice(
            family=self.spec.name,
            config=config,
            seed=seed,
            device=self.raw("device"),
            preset=preset.name if preset and not changed else None,
            label=label,
            seeds=SEEDS.parse(self.raw("seeds")),
            together=self.spec.batched_seeds,
        )
