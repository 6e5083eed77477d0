"""Is any DCGAN layer faster in fp32 than in bf16 on this CPU? (A per-layer precision policy would keep it fp32.)

Times forward and forward+backward of dcgan's thin layers (3 image channels) and one wide layer, channels-last,
bf16 autocast vs fp32, median of 30 calls after 5 warm-up calls, in one process:

    python benchmarks/layer_precision.py

Measured on the 2-core AVX-512-bf16 machine (session 4): bf16 was faster for every layer, thin ones included
(D conv1 with input gradient 4.5 vs 8.6 ms, G's last deconvolution 4.7 vs 5.7 ms), so no such policy pays here.
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
