"""Line-image tuples: the torch side. See the package docstring for the experiment."""

from __future__ import annotations

import torch

from engine.families.tuples import TupleConfig
from engine.families.tuples.lines import Lines, make_batch, sample_lines
from engine.families.tuples.model import TupleNet, images_per_pass, losses, measure_snr, place
from engine.nn import make_optimizer, parameter_count
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer


def micro_batch(config: TupleConfig, device: torch.device) -> int:
    """Tuples per forward/backward pass: the knob, or for 0 as many as `images_per_pass` allows."""
    if config.micro_batch:
        return min(config.micro_batch, config.batch)
    return max(1, min(config.batch, images_per_pass(device) // config.k))


class TupleTrainer(Trainer):
    def __init__(self, config: TupleConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        self.model = place(TupleNet(config.k, generator(seed, "init")), device)
        optimizer = "adam_tf1" if config.adam == "tf1" else "adam"
        self.optimizer = make_optimizer(
            optimizer, self.model.parameters(), config.lr, betas=(config.beta1, config.beta2), eps=config.eps
        )
        self.data_gen = generator(seed, "data", device)
        self.snr_gen = generator(seed, "snr", device)
        # A test set fixed for the whole run (the original's file of 2,000 tuples), kept as lines.
        self.test_lines = sample_lines((config.eval_samples, config.k), generator(seed, "eval", device), device)
        self.pool = sample_lines((config.pool, config.k), self.data_gen, device) if config.pool else None
        self.cursor = 0
        self.micro = micro_batch(config, device)
        self.last_snr: int | None = None
        self.last_snapshot: int | None = None

    def next_lines(self) -> Lines:
        batch = self.config.batch
        if self.pool is None:
            return sample_lines((batch, self.config.k), self.data_gen, self.device)
        if self.cursor + batch > self.pool.theta.shape[0]:  # the original rewound at the end of its file
            self.cursor = 0
        lines = self.pool[self.cursor : self.cursor + batch]
        self.cursor += batch
        return lines

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        lines = self.next_lines()
        batch, dec = self.config.batch, self.config.approach == "dec"
        self.optimizer.zero_grad(set_to_none=True)
        sums = torch.zeros(3, device=self.device)  # loss, tuple loss, image loss, each summed over passes
        # One Adam step over the whole batch, its forward/backward in passes of `micro` tuples: the
        # gradient is the same sum, and a large batch (or a large k) keeps a bounded memory on a CPU.
        for start in range(0, batch, self.micro):
            part = make_batch(lines[start : start + self.micro])
            tuple_scores, image_scores = self.model(part.images)
            tuple_loss, image_loss = losses(tuple_scores, image_scores, part.labels, part.image_labels)
            # End-to-end trains on the tuple's label alone; the image loss is only watched.
            loss = tuple_loss + image_loss if dec else tuple_loss
            weight = part.labels.shape[0] / batch
            (loss * weight).backward()
            sums += torch.stack([loss, tuple_loss, image_loss]).detach() * weight
        self.optimizer.step()
        return {"train_loss": sums[0], "tuple_loss": sums[1], "image_loss": sums[2]}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        right = image_pos = image_neg = loss = 0.0
        total = self.config.eval_samples
        chunk = max(1, images_per_pass(self.device) // self.config.k)
        for start in range(0, total, chunk):
            batch = make_batch(self.test_lines[start : start + chunk])
            tuple_scores, image_scores = self.model(batch.images)
            margin = tuple_scores * batch.labels
            right += (margin > 0).sum()  # the original's accuracy: p * y > 0 (a zero score is wrong)
            loss += torch.relu(1 - margin).sum()
            image_margin = image_scores * batch.image_labels
            image_pos += (image_margin > 0).sum()
            image_neg += (image_margin < 0).sum()
        images = total * self.config.k
        # End-to-end, N1 may learn the slope with either sign (N2 can undo a flip), so an image
        # counts as right when N1's sign agrees with its label up to one flip for the whole run.
        values = {
            "test_acc": float(right) / total,
            "test_loss": float(loss) / total,
            "image_acc": max(float(image_pos), float(image_neg)) / images,
        }
        if self.snr_due(step):
            values.update(self.snr().metrics("snr"))
        return values

    def snr_due(self, step: int) -> bool:
        every = self.config.snr_every
        if not every:
            return False
        if self.last_snr is None or step - self.last_snr >= every or step == self.config.steps:
            self.last_snr = step
            return True
        return False

    def snr(self):
        """The gradient SNR at the current weights, on fresh tuples, of the loss this run trains."""
        c = self.config
        lines = sample_lines((c.snr_samples, c.k), self.snr_gen, self.device)
        chunk = 4096 if c.snr_params != "n1" else 128  # all of N1: ~47k numbers per sample
        return measure_snr(self.model, lines, group=c.snr_params, kind=c.approach, chunk=chunk)

    def snapshots(self, step: int) -> list[SnapshotData]:
        c = self.config
        shown = min(c.show_tuples, c.eval_samples)
        if not shown:
            return []
        if self.last_snapshot is not None and step - self.last_snapshot < c.snapshot_every and step != c.steps:
            return []
        self.last_snapshot = step
        batch = make_batch(self.test_lines[:shown])
        with torch.no_grad():
            tuple_scores, image_scores = self.model(batch.images)
        images = []
        for i in range(shown):
            label = int(batch.labels[i])
            verdict = "right" if float(tuple_scores[i]) * label > 0 else "wrong"
            for j in range(c.k):
                y = int(batch.image_labels[i, j])
                images.append(
                    {
                        "label": f"#{i + 1} y={label:+d} ({verdict}) | θ{'<' if y > 0 else '≥'}π/2: "
                        f"{y:+d}, N1 {float(image_scores[i, j]):+.2f}",
                        "pixels": batch.images[i, j].to(torch.uint8).tolist(),
                        "group": i,
                        "y": y,
                    }
                )
        title = f"{shown} test {c.k}-tuples: label = +1 when an odd number have θ < π/2 (Fig. 2), with N1's scores"
        return [SnapshotData("tuples", "images", {"title": title, "images": images})]

    def parameter_count(self) -> int:
        return parameter_count(self.model)
