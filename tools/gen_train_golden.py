#!/usr/bin/python3
"""Golden files of the optimiser: tests/data/sgd_mlp.gold.

Usage: /usr/bin/python3 tools/gen_train_golden.py [outdir]   (default tests/data)

Tiny models trained by torch.optim.SGD (momentum 0.9, weight decay on,
dampening 0, nesterov off) with torch.nn.CrossEntropyLoss (class-weighted in
case 0) for STEPS steps on a fixed cycle of small batches.  tests/check_train.c
redoes the forward and backward passes by hand and the update with
ndx_sgd_step, and must match the loss trajectory and the final weights.

Same record format as tools/gen_golden.py ("NDXGOLD1", int32 params, float32
tensors).  Three records per case:
  1. in hidden classes batch steps nbatches | w1 (hidden,in), b1 (hidden),
     w2 (classes,hidden), b2 (classes)           hidden == 0: a linear model,
     w1 and b1 are then empty and w2 is (classes,in)
  2. (none) | x (nbatches,batch,in), y (nbatches,batch) as float,
     class_weight (classes), hyper (3) = lr, momentum, weight_decay
  3. (none) | loss (steps): the loss at each step, before its update;
     final w1, b1, w2, b2
Step t uses batch t % nbatches.
"""
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"   # before torch is imported

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import record  # noqa: E402  (the record format is defined there)


def case(f, n_in, hidden, classes, batch, steps, nbatches, lr, momentum, wd, weighted):
    if hidden:
        l1 = torch.nn.Linear(n_in, hidden)
        l2 = torch.nn.Linear(hidden, classes)
        model = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
        w1, b1 = l1.weight, l1.bias
    else:
        l2 = torch.nn.Linear(n_in, classes)
        model = l2
        w1, b1 = torch.zeros(0), torch.zeros(0)
    w2, b2 = l2.weight, l2.bias
    record(f, [n_in, hidden, classes, batch, steps, nbatches],
           [w1, b1, w2, b2])
    x = torch.randn(nbatches, batch, n_in)
    y = torch.randint(0, classes, (nbatches, batch))
    cw = (torch.rand(classes) * 2 + 0.5) if weighted else torch.ones(classes)
    record(f, [], [x, y.float(), cw, torch.tensor([lr, momentum, wd])])
    loss_fn = torch.nn.CrossEntropyLoss(weight=cw if weighted else None)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=wd)
    losses = []
    for t in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x[t % nbatches]), y[t % nbatches])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    record(f, [], [torch.tensor(losses), w1, b1, w2, b2])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    torch.manual_seed(0)
    torch.set_num_threads(1)
    with open(os.path.join(out, "sgd_mlp.gold"), "wb") as f:
        case(f, 6, 8, 3, 5, 20, 4, lr=0.1, momentum=0.9, wd=1e-4, weighted=True)
        case(f, 5, 0, 2, 4, 20, 3, lr=0.05, momentum=0.9, wd=1e-3, weighted=False)
    print("wrote", os.path.join(out, "sgd_mlp.gold"))


if __name__ == "__main__":
    main()
