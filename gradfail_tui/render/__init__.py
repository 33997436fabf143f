"""What gradfail draws with Rich and plotext, outside the explorer's widgets: one place for the headless
display (`gradfail run`), the report (`gradfail report`) and the explorer's status lines.

- format: numbers, durations and metrics as text (cheap: the explorer's first frame uses it);
- colours: how a run's status and a claim's outcome look, in Rich and in Textual (cheap too);
- bitmaps: an "images" snapshot as half blocks or braille;
- tables: the tables at the end of `gradfail run` (a run, its seeds, a group, the verdict);
- plots: the figures and the snapshots' plots, drawn with plotext (imported only there).

Torch-free, and no Textual: the widgets import from here, never the other way round. Nothing is
imported here, so that asking for one module does not pull in the others' dependencies.
"""
