"""PWL curves: the torch side. See the package docstring for the experiment (Sec. 4, Fig. 6).

One trainer class runs all four learners. Each learner is a small nn.Module, chosen from
`LEARNERS` by the config's `trainer`, with one interface: `inputs(f)` turns float64 curves into
what its loss reads (the curves, or the convolution's rows, whitened or not, built once per set),
`loss(inputs, p)`, `decode(f, w)` (the curve it gives back), `report()` (filter or distance to
W^-1), `cond()` and `table_rows()` (the conditioning diagnostic). Losses are the original's: the
linear learner's is the mean over the batch of the summed squared error over the n outputs; the
others' the mean over every entry.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.diagnostics import conditioning
from engine.families.pwl import PWLConfig
from engine.families.pwl.data import CurveSets, make_curve_sets, taught_projector
from engine.nn import make_optimizer, mlp, parameter_count
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer, descend

IDEAL_FILTER = (1.0, -2.0, 1.0)  # W^-1 as a convolution (Lemma 1)
TAPS = len(IDEAL_FILTER)


def filter_rows(f: torch.Tensor) -> torch.Tensor:
    """(m, n) curves -> (m, n - 2, 3) rows [f_j, f_{j-1}, f_{j-2}] for j = 2 .. n-1 (the original's F)."""
    n = f.shape[1]
    return torch.stack([f[:, TAPS - 1 - k : n - k] for k in range(TAPS)], dim=2)


class LinearLearner(nn.Module):
    """p = f U with U an n x n matrix from zeros (Sec. 4.1.1)."""

    def __init__(
        self, config: PWLConfig, sets: CurveSets, device: torch.device, dtype: torch.dtype, init: torch.Generator
    ):
        super().__init__()
        self.u = nn.Parameter(torch.zeros(sets.n, sets.n, device=device, dtype=dtype))
        self.w_inv = sets.w_inv.to(device)
        self.projector = taught_projector(sets).to(device)
        self.conditioning = conditioning.linear_problem(sets.w, sets.train_f)

    def inputs(self, f: torch.Tensor) -> torch.Tensor:
        return f.to(self.u.dtype)

    def loss(self, f: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return (f @ self.u - p).square().sum(dim=1).mean()

    def decode(self, f: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return f @ self.u @ w

    def report(self) -> dict[str, float]:
        error = self.u.detach().double() - self.w_inv
        return {"u_err": error.abs().max().item(), "u_err_taught": (self.projector @ error).abs().max().item()}

    def cond(self) -> float:
        return self.conditioning["cond_wwt"]

    def table_rows(self) -> list[list[str]]:
        c = self.conditioning
        return [
            ["cond(W W^T), Theorem 3", conditioning.format_cond(c["cond_wwt"]), "-"],
            [
                f"cond(E f^T f) on the data's span (dim {int(c['data_rank'])})",
                conditioning.format_cond(c["cond_data"]),
                "-",
            ],
        ]


class ConvLearner(nn.Module):
    """A 3-tap filter from zeros, p_j = w . [f_j, f_{j-1}, f_{j-2}] for j >= 2, p_0 = p_1 = 0 (Sec. 4.1.2).

    With `whiten` the rows are first multiplied by C^-1/2 (Sec. 4.1.3); the filter the run reports
    is then C^-1/2 w, the one applied to the raw rows, so both learners compare with (1, -2, 1).
    The original pads p_0 = p_1 = 0, so with curves = prose a kink at x = 0 or 1 cannot be encoded
    and such curves decode wrong even with the exact filter (the original curves have none there).
    """

    def __init__(
        self,
        config: PWLConfig,
        sets: CurveSets,
        device: torch.device,
        dtype: torch.dtype,
        init: torch.Generator,
        whiten: bool,
    ):
        super().__init__()
        self.whiten = whiten
        self.w = nn.Parameter(torch.zeros(TAPS, device=device, dtype=dtype))
        self.conditioning, whitener = conditioning.conv_problem(
            filter_rows(sets.train_f).reshape(-1, TAPS), filter_rows(sets.val_f).reshape(-1, TAPS)
        )
        # Whitening is computed in float64 (cond(C) is about 1e5 at n = 100) and only then cast.
        self.whitener64 = (whitener if whiten else torch.eye(TAPS, dtype=torch.float64)).to(device)
        self.whitener = self.whitener64.to(dtype)

    def raw_filter(self) -> torch.Tensor:
        return self.whitener @ self.w

    def inputs(self, f: torch.Tensor) -> torch.Tensor:
        """The rows the filter sees, whitened (or not) in float64, then cast."""
        return (filter_rows(f.double()) @ self.whitener64).to(self.w.dtype)

    def loss(self, rows: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(F.pad(rows @ self.w, (TAPS - 1, 0)), p)

    def decode(self, f: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.pad(filter_rows(f) @ self.raw_filter(), (TAPS - 1, 0)) @ w

    def report(self) -> dict[str, float]:
        values = self.raw_filter().detach().double().cpu()
        ideal = torch.tensor(IDEAL_FILTER, dtype=torch.float64)
        return {
            **{f"filter_{k}": float(values[k]) for k in range(TAPS)},
            "filter_err": float((values - ideal).abs().max()),
        }

    def cond(self) -> float:
        return self.conditioning["cond_whitened" if self.whiten else "cond_rows"]

    def table_rows(self) -> list[list[str]]:
        values = self.raw_filter().detach().double().cpu().tolist()
        rows = [[f"filter w{k}", f"{values[k]:+.4f}", f"{IDEAL_FILTER[k]:+g}"] for k in range(TAPS)]
        c = self.conditioning
        rows.append(["cond(C), 3x3 row correlation", conditioning.format_cond(c["cond_rows"]), "-"])
        rows.append(["cond after whitening (validation)", conditioning.format_cond(c["cond_whitened"]), "1"])
        return rows


class AutoEncoderLearner(nn.Module):
    """Encoder n-500-100-code and decoder code-100-100-n, ReLU between layers (Sec. 4.1.4)."""

    def __init__(
        self, config: PWLConfig, sets: CurveSets, device: torch.device, dtype: torch.dtype, init: torch.Generator
    ):
        super().__init__()
        encoder = mlp([sets.n, 500, 100, config.code_size], init)
        if config.code_relu:  # the original also rectifies the code
            encoder.append(nn.ReLU())
        self.encoder = encoder
        self.decoder = mlp([config.code_size, 100, 100, sets.n], init)
        self.to(device, dtype)
        data_cond, _ = conditioning.span_condition(conditioning.correlation(sets.train_f))
        self.conditioning = {"cond_data": data_cond}

    def inputs(self, f: torch.Tensor) -> torch.Tensor:
        return f.to(self.decoder[0].weight.dtype)

    def loss(self, f: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.decoder(self.encoder(f)), f)  # p is not used: it reconstructs f

    def decode(self, f: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(f))

    def report(self) -> dict[str, float]:
        return {}

    def cond(self) -> float | None:
        return None  # not a linear least-squares problem: no single condition number

    def table_rows(self) -> list[list[str]]:
        return [
            [
                "cond(E f^T f) of the input curves (for comparison)",
                conditioning.format_cond(self.conditioning["cond_data"]),
                "-",
            ]
        ]


LEARNERS = {
    "linear": LinearLearner,
    "conv": lambda *args: ConvLearner(*args, whiten=False),
    "conv_cond": lambda *args: ConvLearner(*args, whiten=True),
    "autoencoder": AutoEncoderLearner,
}


class PWLTrainer(Trainer):
    def __init__(self, config: PWLConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        dtype = getattr(torch, config.dtype)
        # Two generators for the two fixed sets, so val_size does not change the training curves.
        sets = make_curve_sets(
            config.curves,
            config.n,
            config.pieces,
            config.train_size,
            config.val_size,
            train_gen=generator(seed, "data"),
            val_gen=generator(seed, "eval"),
        )
        self.model = LEARNERS[config.trainer](config, sets, device, dtype, generator(seed, "init"))
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.batch_gen = generator(seed, "batch", device)
        self.w = sets.w.to(device, dtype)
        # Every step reads the same inputs: build them once (for the convolutions, rows and whitening).
        self.train_inputs = self.model.inputs(sets.train_f.to(device))
        self.train_p = sets.train_p.to(device, dtype)
        self.val_inputs = self.model.inputs(sets.val_f.to(device))
        self.val_f = sets.val_f.to(device, dtype)
        self.val_p = sets.val_p.to(device, dtype)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        # Minibatches drawn from the training set with replacement, as in the original.
        idx = torch.randint(self.config.train_size, (self.config.batch,), generator=self.batch_gen, device=self.device)
        loss = self.model.loss(self.train_inputs.index_select(0, idx), self.train_p.index_select(0, idx))
        return {"train_loss": descend(self.optimizer, loss)}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        decoded = self.model.decode(self.val_f, self.w)
        values = {
            "val_loss": self.model.loss(self.val_inputs, self.val_p).item(),
            "curve_rmse": (decoded - self.val_f).square().mean().sqrt().item(),
            **self.model.report(),
        }
        cond = self.model.cond()
        if cond is not None:
            values["cond"] = cond  # constant (measured once); sent each time so the plot shows a level
        return values

    @torch.no_grad()
    def snapshots(self, step: int) -> list[SnapshotData]:
        snaps = [
            SnapshotData(
                "conditioning",
                "table",
                {
                    "title": f"{self.config.trainer}: conditioning",
                    "columns": ["quantity", "value", "ideal"],
                    "rows": self.model.table_rows(),
                },
            )
        ]
        every = self.config.curves_every
        # Snapshots are taken at evaluations: send the curves at the first one at or after each
        # multiple of curves_every (and at the start and the end).
        if step in (0, self.config.steps) or not every or step % every < self.config.eval_every:
            snaps.append(self.curves_snapshot(step))
        return snaps

    def curves_snapshot(self, step: int) -> SnapshotData:
        """A few validation curves, original vs decoded, as in Fig. 6."""
        k = self.config.shown_curves
        original = self.val_f[:k].double().cpu()
        decoded = self.model.decode(self.val_f[:k], self.w).double().cpu()
        x = list(range(self.config.n))
        series = []
        for i in range(k):
            # "group" and "color" (Fig. 6's blue and red) let a view draw every original curve in one
            # colour and every decoded one in another; views that ignore them still get labels.
            series.append(
                {"label": f"curve {i + 1}", "group": "original", "color": "blue", "x": x, "y": original[i].tolist()}
            )
            series.append(
                {"label": f"decoded {i + 1}", "group": "decoded", "color": "red", "x": x, "y": decoded[i].tolist()}
            )
        return SnapshotData(
            "curves",
            "lines",
            {
                "title": f"{self.config.trainer}: validation curves, original vs decoded",
                "x_label": "x",
                "y_label": "f(x)",
                "series": series,
            },
        )

    def parameter_count(self) -> int:
        return parameter_count(self.model)
