"""Cost of one MT-FAS step vs a plain supervised step of the same student on the same batch.

Prints wall time per step and peak memory for second- and first-order meta steps, every
backend, K = 1 and 2 (the ``jvp`` backend: K = 1 only, where first order makes no
difference), and the ratio to a plain step (forward + backward + optimiser step
of the student on the same training batch). Peak memory: on CUDA the allocator's maximum
(``torch.cuda.max_memory_allocated``, models and batch included); on the CPU the peak of
the bytes the step itself allocates, from the allocation and free events of
``torch.profiler`` (one extra, untimed call; models and batch excluded).

Targets (issue 6): the second-order K = 1 step costs at most 3.0x a plain step (the
verdict names the cheapest exact backend and lists every backend's ratio); the
torch.func backend takes at most the time and memory of the higher backend.

    python benchmarks/meta_step.py --width 0.25 --size 64 --batch 32 --repeats 5
    python benchmarks/meta_step.py --device cuda --width 1 --size 256 --batch 32
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from mtfas.models import DepthNet, TeacherNet
from mtfas.systems.inner_loop import make_inner_loop
from mtfas.systems.losses import (
    binary_map_target,
    supervision_target,
    teaching_loss,
    validation_loss,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _once(fn, device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _timed(fn, repeats: int, device: torch.device, plain=None) -> tuple[float, float, float]:
    """Median seconds of ``fn``, median seconds of ``plain`` timed alternately with it, peak MiB.

    Alternating the two (plain, fn, plain, fn, ...) makes their ratio robust to the
    machine's speed drifting during the run.
    """
    fn()  # warm-up
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, plain_times = [], []
    for _ in range(repeats):
        if plain is not None:
            plain_times.append(_once(plain, device))
        times.append(_once(fn, device))
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else cpu_peak(fn)
    return _median(times), _median(plain_times) if plain_times else float("nan"), peak


def cpu_peak(fn) -> float:
    """Peak MiB allocated by ``fn`` on the CPU, from the profiler's memory events.

    Allocations are taken at the start of the innermost operator that made them
    (its self memory), frees at their own events; the peak is the maximum running sum.
    """
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    timeline = []
    for event in prof.events():
        usage = (
            event.cpu_memory_usage if event.name == "[memory]" else (event.self_cpu_memory_usage)
        )
        if usage:
            timeline.append((event.time_range.start, usage))
    timeline.sort()
    running = peak = 0
    for _, usage in timeline:
        running += usage
        peak = max(peak, running)
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--teacher_width", type=float, default=None)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    student = DepthNet(args.width).to(device)
    teacher = TeacherNet(args.teacher_width or args.width / 2).to(device)
    opt_s = torch.optim.Adam(student.parameters(), 1e-3)
    opt_t = torch.optim.Adam(teacher.parameters(), 1e-3)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.arange(args.batch, device=device) % 2
    xv = torch.randn_like(x)
    yv = y.flip(0)

    def plain() -> None:
        opt_s.zero_grad()
        maps = student(x)
        teaching_loss(maps, binary_map_target(y, maps)).backward()
        opt_s.step()

    def meta(backend: str, steps: int, first_order: bool):
        loop = make_inner_loop(backend, steps, 0.05, first_order)

        def step() -> None:
            opt_t.zero_grad()
            target = supervision_target(teacher(x), y)
            res = loop.run(student, x, target, xv, lambda m: validation_loss("map_mean_bce", m, yv))
            res.val_loss.backward()
            opt_t.step()
            opt_s.zero_grad()
            for p, g in zip(student.parameters(), res.student_grads, strict=True):
                p.grad = g
            opt_s.step()

        return step

    base, _, base_mem = _timed(plain, args.repeats, device)
    print(
        f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), "
        f"threads {torch.get_num_threads()}, DepthNet width {args.width}, input {args.size}, "
        f"batch {args.batch}"
    )
    print(f"{'step':<34}{'s/step':>9}{'ratio':>8}{'peak MiB':>10}")
    print(f"{'plain supervised':<34}{base:>9.4f}{1.0:>8.2f}{base_mem:>10.0f}")
    rows: dict[tuple[str, int, bool], tuple[float, float]] = {}
    for backend in ("higher", "torch.func", "jvp"):
        for steps in (1, 2):
            for first_order in (False, True):
                name = f"MT-FAS {backend} K={steps} {'1st' if first_order else '2nd'}-order"
                if backend == "jvp" and steps > 1:
                    if first_order:
                        print(
                            f"{name[:-10]} skipped: the jvp backend is K=1 only (closed-form "
                            "one-step hypergradient)"
                        )
                    continue
                if backend == "jvp" and first_order:
                    print(f"{name:<34} = 2nd order (first_order has no effect at K=1)")
                    continue
                t, local, mem = _timed(
                    meta(backend, steps, first_order), args.repeats, device, plain
                )
                rows[backend, steps, first_order] = (t / local, mem)
                print(f"{name:<34}{t:>9.4f}{t / local:>8.2f}{mem:>10.0f}")
    exact = {b: rows[b, 1, False][0] for b in ("higher", "torch.func", "jvp")}
    print(
        "second-order K=1 step / plain: "
        + ", ".join(f"{b} {r:.2f}x ({'<=' if r <= 3.0 else '>'} 3.0x)" for b, r in exact.items())
    )
    best = min(exact, key=exact.__getitem__)
    verdict = "holds" if exact[best] <= 3.0 else "does NOT hold"
    print(
        f"target: second-order K=1 step <= 3.0x plain: cheapest exact backend {best} "
        f"{exact[best]:.2f}x -> {verdict}"
    )
    (h, h_mem), (f, f_mem) = rows["higher", 1, False], rows["torch.func", 1, False]
    print(
        f"target: torch.func time <= higher (K=1, 2nd order): {f:.2f}x vs {h:.2f}x -> "
        f"{'holds' if f <= h else 'does NOT hold'}"
    )
    print(
        f"target: torch.func memory <= higher (K=1, 2nd order): {f_mem:.0f} vs {h_mem:.0f} "
        f"MiB -> {'holds' if f_mem <= h_mem else 'does NOT hold'}"
    )


if __name__ == "__main__":
    main()
