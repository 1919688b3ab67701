"""The options of ``qcc train`` (kept apart from the training code so building the CLI parser
loads no training module)."""

from __future__ import annotations

import argparse

from qcc.train.config import METHODS, OPTIMIZERS, TrainConfig


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".onnx (or a float .qir)")
    p.add_argument("--data", required=True, help="training .npz: the model's input and 'label'")
    p.add_argument("--val", help="validation .npz (input and 'label'), evaluated after every epoch")
    p.add_argument("--calib", help="calibration data for the starting ranges (default: --data)")
    p.add_argument("-o", "--output", required=True, help="the trained, calibrated float graph (.qir, plus .npz)")
    p.add_argument("--weights", type=int, default=4, help="weight bits (default 4)")
    p.add_argument("--acts", type=int, default=8, help="activation bits (default 8; 2..8 or 16, as the target allows: npu-lowbit runs 2..8)")
    p.add_argument("--per-tensor", action="store_true", help="one weight step per tensor instead of per output channel")
    p.add_argument("--method", choices=METHODS, default="lsq", help="lsq, dampen (LSQ + oscillation dampening) or freeze (LSQ + iterative freezing)")
    p.add_argument("--init", default="fast", help="the PTQ recipe whose calibrated graph training starts from (fast, dfq, adaround)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="Adam/SGD learning rate of weights and biases")
    p.add_argument("--step-lr", type=float, default=TrainConfig.step_lr, help="learning rate of the LSQ step sizes, as a fraction of each starting step")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--dampen-weight", type=float, default=TrainConfig.dampen_weight, help="final dampening weight (cosine rise from 0)")
    p.add_argument("--freeze-threshold", type=float, nargs=2, default=(TrainConfig.freeze_start, TrainConfig.freeze_end),
                   metavar=("START", "END"), help="freezing threshold on the EMA oscillation frequency, cosine from START to END")
    p.add_argument("--history", help="write per-epoch numbers (loss, top-1, oscillations, frozen) to this .npz")
    p.add_argument("--target", help="integer target (default: the first that runs the widths with per-channel weights)")
    p.add_argument("--seed", type=int, default=0, help="shuffling seed: the same seed gives the same weights")
    p.add_argument("-v", "--verbose", action="store_true")
