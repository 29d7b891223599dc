"""One epoch of the exponential-smoothing objective, linear softmax, batch 128, Adam:
the PyTorch CPU equivalent of bench/learning-speed.ts (same formulas as
src/learning/objectives.ts; KL of the softmax class = |mu|^2 / 2, delta 0.05).
Prints the wall and CPU seconds of one epoch (after one warm-up batch)."""
import math, sys, time
import numpy as np
import torch

d_ir, n, d, k, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
x = torch.from_numpy(np.fromfile(f"{d_ir}/x.f32", dtype=np.float32).reshape(n, d))
a = torch.from_numpy(np.fromfile(f"{d_ir}/a.i32", dtype=np.int32).astype(np.int64))
p = torch.from_numpy(np.fromfile(f"{d_ir}/p.f64", dtype=np.float64)).float()
r = torch.from_numpy(np.fromfile(f"{d_ir}/r.f64", dtype=np.float64)).float()
pi0 = torch.from_numpy(np.fromfile(f"{d_ir}/pi0.f64", dtype=np.float64).reshape(n, k)).float()
c = -r
delta = 0.05
alpha = 1 - n ** -0.25
model = torch.nn.Linear(d, k)
torch.nn.init.zeros_(model.weight); torch.nn.init.zeros_(model.bias)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

def step(idx):
    pi = torch.softmax(model(x[idx]), dim=1)
    B = idx.shape[0]
    w = pi[torch.arange(B), a[idx]]
    pa = p[idx] ** alpha
    R = (c[idx] * w / pa).mean()
    q = pi0[idx]
    bias = 1 - (pi * q ** (1 - alpha)).sum(1).mean()
    M = (pi * q ** (1 - 2 * alpha)).sum(1).mean() + (c[idx] ** 2 * w / pa ** 2).mean()
    kl = 0.5 * (model.weight.pow(2).sum() + model.bias.pow(2).sum())
    c1 = kl + math.log(4 * math.sqrt(n) / delta)
    c2 = kl + math.log(4 / delta)
    lam = torch.sqrt(2 * c2 / (n * M)).detach()
    loss = R + torch.sqrt(c1 / (2 * n)) + bias + c2 / (n * lam) + lam / 2 * M
    opt.zero_grad(); loss.backward(); opt.step()

perm = torch.randperm(n)
step(perm[:128])
t = time.perf_counter()
cpu0 = time.process_time()
for s in range(0, n - 127, 128):
    step(perm[s:s + 128])
print(time.perf_counter() - t, time.process_time() - cpu0)
