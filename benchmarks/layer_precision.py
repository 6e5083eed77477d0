"""Is any DCGAN layer faster in fp32 than in bf16 on this CPU? (A per-layer precision policy would keep it fp32.)

Times forward and forward+backward of dcgan's thin layers (3 image channels) and one wide layer, channels-last,
bf16 autocast vs fp32, median of 30 calls after 5 warm-up calls, in one process:

    python benchmarks/layer_precision.py

Measured on the 2-core AVX-512-bf16 machine (benchmarks/results/layer-precision.txt, three processes): the thin
first D layer is about as fast in fp32 as in bf16 (forward+backward 1.4-1.6 vs 1.6-1.9 ms), the wide layers are
faster in bf16, so a per-layer fp32 policy would save under 1 ms of a ~110 ms dcgan step. The bf16 backward kernels
ran at one of two speeds per process: the three kept ran D's 64->128 layer in 10.2-10.3 ms, while three earlier
processes the same day took 12.7-13.4 ms and the thin layers' bf16 backward 2x longer (not kept): a source of spread
between benchmark runs. (The "G step" row also computes D's weight gradients, which the trainer's G step skips.)
"""

from __future__ import annotations

import time

import torch


def median_ms(fn, n: int = 30) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[n // 2] * 1e3


LAYERS = [
    ("D conv1 3->64 (D step)", lambda: torch.nn.Conv2d(3, 64, 4, 2, 1, bias=False), (64, 3, 32, 32), False),
    ("D conv1 3->64 (G step: input grad)", lambda: torch.nn.Conv2d(3, 64, 4, 2, 1, bias=False), (64, 3, 32, 32), True),
    ("G deconv 64->3", lambda: torch.nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), (64, 64, 16, 16), True),
    ("D conv2 64->128", lambda: torch.nn.Conv2d(64, 128, 4, 2, 1, bias=False), (64, 64, 16, 16), True),
]


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median ms of 30 calls")
    for name, make, shape, input_grad in LAYERS:
        layer = make().to(memory_format=torch.channels_last)
        for precision in ("bf16", "fp32"):
            x = torch.randn(shape).contiguous(memory_format=torch.channels_last).requires_grad_(input_grad)
            amp = dict(device_type="cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

            def forward():
                with torch.no_grad(), torch.autocast(**amp):
                    layer(x)

            def forward_backward():
                with torch.autocast(**amp):
                    y = layer(x)
                y.float().sum().backward()

            print(f"{name:36s} {precision}: forward {median_ms(forward):6.2f}   forward+backward "
                  f"{median_ms(forward_backward):6.2f}")


if __name__ == "__main__":
    main()
