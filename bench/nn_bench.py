#!/usr/bin/python3
"""Forward+backward images/s of the reference model, augment next to
PyTorch, on the same model, batch and thread counts, in one run.

    /usr/bin/python3 bench/nn_bench.py [--build build] [--batch 128]
        [--threads 1,2] [--rounds 7] [--seconds 1.5]

Builds nothing: it runs <build>/bench/nn_bench (make build) and
bench/nn_bench_torch.py under /usr/bin/python3 (Debian's python3-torch).

PyTorch runs twice. "torch" is torch as installed. "torch+malloc" is the
same with glibc's allocator told to keep freed memory
(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_): torch
allocates every activation afresh each step, and with glibc's defaults
the large ones are mmap'd and unmapped each time, so the kernel zeroes
tens of MB of new pages per step (perf shows clear_page). The PyTorch
performance guide recommends jemalloc or tcmalloc for the same reason;
this is the glibc equivalent, and the fastest fair setting we found.
nn_bench allocates nothing per step, so the setting does not touch it.

For each thread count the three run as long-lived workers; rounds rotate
through them (the order shifts every round) so that all see the same
machine, and each round times about --seconds of work. Reported: the
median images/s of each over the rounds, the spread (min-max), and the
ratios of the medians.
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# glibc: serve every block below 32 MB (the ceiling) from the heap and
# never give memory back, so freed activations are reused as they are.
MALLOC_KEEP = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 32),
    "MALLOC_TOP_PAD_": str(256 << 20),
}


class Worker:
    def __init__(self, name, cmd, env):
        self.name = name
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env, cwd=ROOT)
        self.banner = self.p.stdout.readline().strip()
        if not self.banner.startswith("ready"):
            raise SystemExit("%s did not start: %r" % (name, self.banner))

    def run(self, steps):
        self.p.stdin.write("run %d\n" % steps)
        self.p.stdin.flush()
        line = self.p.stdout.readline().split()
        if len(line) != 2 or line[0] != "img/s":
            raise SystemExit("%s: bad answer %r" % (self.name, line))
        return float(line[1])

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.5)
    a = ap.parse_args()
    exe = os.path.join(ROOT, a.build, "bench", "nn_bench")
    if not os.access(exe, os.X_OK):
        raise SystemExit("%s is missing: run `make build` first" % exe)
    if a.rounds < 5:
        raise SystemExit("use at least 5 rounds")

    results = []
    torch_py = os.path.join(ROOT, "bench", "nn_bench_torch.py")
    for t in [int(s) for s in a.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(t))
        targs = ["--threads", str(t), "--batch", str(a.batch)]
        workers = [
            Worker("augment", [exe, "--serve", "--batch", str(a.batch), "--threads", str(t)], env),
            Worker("torch", ["/usr/bin/python3", torch_py] + targs, env),
            Worker("torch+malloc", ["/usr/bin/python3", torch_py] + targs,
                   dict(env, **MALLOC_KEEP)),
        ]
        print("threads %d:" % t, flush=True)
        for w in workers:
            print("  %-13s %s" % (w.name, w.banner), flush=True)
        # size the rounds: about --seconds each at the first measured speed
        steps = {w.name: max(2, int(a.seconds * w.run(3) / a.batch)) for w in workers}
        rates = {w.name: [] for w in workers}
        for r in range(a.rounds):
            k = r % len(workers)
            for w in workers[k:] + workers[:k]:
                rates[w.name].append(w.run(steps[w.name]))
            print("  round %d: " % (r + 1) +
                  "  ".join("%s %6.0f" % (w.name, rates[w.name][-1]) for w in workers),
                  flush=True)
        for w in workers:
            w.close()
        results.append((t, rates))

    names = ["augment", "torch", "torch+malloc"]
    print()
    print("reference model (samples/models/fmnist.model), batch %d, forward+backward, "
          "images/s, median (min-max) of %d rounds" % (a.batch, a.rounds))
    print("%-8s" % "threads" + "".join("%22s" % n for n in names) +
          "%12s%14s" % ("vs torch", "vs +malloc"))
    for t, rates in results:
        med = {n: statistics.median(rates[n]) for n in names}
        cells = "".join("%8.0f (%5.0f-%5.0f)" % (med[n], min(rates[n]), max(rates[n]))
                        for n in names)
        print("%-8d%s%11.2fx%13.2fx" % (t, cells, med["augment"] / med["torch"],
                                        med["augment"] / med["torch+malloc"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
