"""Training throughput by placement: one CPU device, the CPU split into two logical devices under
MirroredStrategy, and the GPU when one is visible (each in a fresh process: devices are set up
before TensorFlow starts)."""

from __future__ import annotations

from benchmarks import child
from benchmarks.report import Figure, log

ARCHS = ("conv", "vae")
QUICK_ARCHS = ("vae",)  # a smoke run walks every placement once
PLACEMENTS = {"1cpu": ("one", "cpu", 1), "2cpu": ("mirrored", "cpu", 2), "gpu": ("one", "gpu", 1)}


def train_placed(arch: str, strategy: str, device: str, cpu_devices: int, quick: bool) -> dict:
    """In a fresh process (run by benchmarks.child): train arch's default config (tiny when quick) placed as
    asked; its summary. {"skipped": why} when the placement cannot be had here."""
    from aecore.distribute import DistributeError, Placement
    from benchmarks.api import RunConfig, get_run, load_dataset

    overrides = {"epochs": 1, "train_size": 256} if quick else {"epochs": 2}
    config = RunConfig.for_arch(arch, **overrides)
    try:
        strategy = Placement(strategy, device, cpu_devices).checked(config.batch_size).start()
    except DistributeError as exc:
        return {"skipped": str(exc)}
    return {"summary": get_run(config, data=load_dataset(config.dataset), strategy=strategy).summary()}


def bench_placements(quick: bool) -> list[Figure]:
    """Images per second of training on 1 and 2 logical CPU devices and on the GPU, per architecture (in quick
    mode the VAE's alone). A placement this machine cannot have is asked once, not once per architecture."""
    figures = []
    unavailable: dict[str, str] = {}
    for arch in QUICK_ARCHS if quick else ARCHS:
        one_device = None
        for name, (strategy, device, cpu_devices) in PLACEMENTS.items():
            if name in unavailable:
                result = {"skipped": unavailable[name]}
            else:
                result = child.run("train_placed", arch=arch, strategy=strategy, device=device,
                                   cpu_devices=cpu_devices, quick=quick)
                if "skipped" in result:
                    unavailable[name] = result["skipped"]
            figure_name = f"train_throughput_{arch}_{name}"
            if "skipped" in result:
                figures.append(Figure(figure_name, None, "img/s", note=f"skipped: {result['skipped']}"))
                log(f"  {arch:7s} {name}: skipped ({result['skipped']})")
                continue
            s = result["summary"]
            value = s["train_img_per_s"]
            one_device = value if name == "1cpu" else one_device
            ratio = f"; {value / one_device:.2f}x one CPU device" if one_device and name != "1cpu" else ""
            figures.append(Figure(figure_name, value, "img/s",
                                  note=f"{s['strategy']} on {', '.join(s['devices'])}, batch {s['batch_size']} "
                                       f"(global){ratio}",
                                  extra={"replica_examples": s["replica_examples"]}))
            log(f"  {arch:7s} {name}: {value:,.0f} img/s{ratio}")
    return figures
