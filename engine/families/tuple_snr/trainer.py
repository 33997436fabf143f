"""The SNR-vs-k sweep: the torch side. See the package docstring for what is measured."""

from __future__ import annotations

import torch
from torch import nn

from engine.diagnostics.snr import SNREstimate, combine
from engine.families.tuple_snr import TupleSNRConfig
from engine.families.tuples.lines import render, sample_lines
from engine.families.tuples.model import (
    FEATURES,
    Head,
    TupleNet,
    images_per_pass,
    measure_snr,
    n1_body,
    n1_features,
    place,
)
from engine.nn import init_linear_
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer

APPROACHES = (("e2e", "end-to-end"), ("dec", "decomposition"))
# Also measured at every k: decomposition under the loss its training follows (the tuple hinge plus
# every image's hinge). Unlike the first-image loss, it sees N2 and all k images, so it may differ with k.
FULL = ("dec_full", "decomposition, training loss")
MEASURED = (*APPROACHES, FULL)
RENDER_TUPLES = 4096  # tuples drawn at a time while computing N1's features


class TupleSNRSweep(Trainer):
    measures = True  # a measurement, not training: a non-finite result ends the run `diverged`

    def __init__(self, config: TupleSNRConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        self.init_gen = generator(seed, "init")
        self.data_gen = generator(seed, "data", device)
        self.ks = list(range(1, config.k_max + 1))
        self.kinds = {"e2e": "e2e", "dec": "dec_first" if config.dec_loss == "first" else "dec", "dec_full": "dec"}
        self.results: dict[tuple[str, int], list[SNREstimate]] = {(a, k): [] for a, _ in MEASURED for k in self.ks}

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One initialisation: a fresh N1 for all k, a fresh N2 per k, T fresh tuples shared by all k."""
        c = self.config
        body = place(n1_body(self.init_gen), self.device)  # channels-last on a CPU: about 1.8x faster
        last = init_linear_(nn.Linear(FEATURES, 1), self.init_gen).to(self.device)
        lines = sample_lines((c.samples, c.k_max), self.data_gen, self.device)
        features = None
        if c.params != "n1":  # the head's gradients need only N1's features: compute them once
            with torch.no_grad():
                features = torch.cat(
                    [
                        n1_features(body, render(lines[i : i + RENDER_TUPLES]), images_per_pass(self.device))
                        for i in range(0, c.samples, RENDER_TUPLES)
                    ]
                )
        for k in self.ks:
            head = Head(k, self.init_gen).to(self.device)
            head.last = last  # the same N1 (body and last layer) for every k, as the original
            net = TupleNet.from_parts(body, head)
            sub = lines[:, :k]
            feats = None if features is None else features[:, :k]
            for approach, _ in MEASURED:
                chunk = 4096 if c.params != "n1" else 128
                self.results[approach, k].append(
                    measure_snr(net, sub, group=c.params, kind=self.kinds[approach], chunk=chunk, features=feats)
                )
        return {}

    def means(self) -> dict[tuple[str, int], SNREstimate]:
        return {key: combine(values) for key, values in self.results.items() if values}

    def evaluate(self, step: int) -> dict[str, float]:
        values = {}
        for (approach, k), est in self.means().items():
            values[f"{approach}_k{k}" if est.resolved else f"{approach}_k{k}_upper"] = (
                est.snr if est.resolved else est.upper
            )
        if values:
            values["resolution"] = max(e.resolution for e in self.means().values())
        return values

    def snapshots(self, step: int) -> list[SnapshotData]:
        means = self.means()
        if not means:
            return []
        inits = len(next(iter(self.results.values())))
        series = []
        for approach, words in MEASURED:
            got = [(k, means[approach, k]) for k in self.ks]
            resolved = [(k, e.snr) for k, e in got if e.resolved]
            bounds = [(k, e.upper) for k, e in got if not e.resolved]
            series.append({"label": words, "x": [k for k, _ in resolved], "y": [v for _, v in resolved]})
            series.append(
                {
                    "label": f"{words}: below resolution (upper bound)",
                    "x": [k for k, _ in bounds],
                    "y": [v for _, v in bounds],
                    "upper_bound": True,
                }
            )
        series.append(
            {
                "label": "resolution (the larger of the two)",
                "x": self.ks,
                "y": [max(means[a, k].resolution for a, _ in MEASURED) for k in self.ks],
            }
        )
        lines = {
            "title": f"Gradient SNR of N1's last layer at initialisation vs k, mean of {inits} "
            f"initialisation(s), T = {self.config.samples:,} (Fig. 5)",
            "x_label": "k (images per tuple)",
            "y_label": "SNR",
            "log_y": True,
            "series": series,
        }
        rows = [
            [
                k,
                means["e2e", k].describe(),
                means["dec", k].describe(),
                means["dec_full", k].describe(),
                f"{means['e2e', k].resolution:.2g} / {means['dec', k].resolution:.2g}",
            ]
            for k in self.ks
        ]
        table = {
            "title": f"Gradient SNR at initialisation ({inits} initialisation(s) of N1 and N2)",
            "columns": ["k", "end-to-end", "decomposition", "decomposition, training loss", "resolution (e2e / dec)"],
            "rows": rows,
        }
        return [SnapshotData("snr_vs_k", "lines", lines), SnapshotData("snr_table", "table", table)]
