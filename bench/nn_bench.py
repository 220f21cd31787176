#!/usr/bin/python3
"""Forward+backward images/s of the reference model, augment next to
PyTorch, on the same model, batch and thread counts, in one run.

    /usr/bin/python3 bench/nn_bench.py [--build build] [--batch 128]
        [--threads 1,2] [--rounds 7] [--seconds 1.5]

Builds nothing: it runs <build>/bench/nn_bench (make build) and
bench/nn_bench_torch.py under /usr/bin/python3 (Debian's python3-torch).
For each thread count both run as long-lived workers; rounds alternate
between them (the order flips every round) so that both see the same
machine, and each round times about --seconds of work. Reported: the
median images/s of each over the rounds, the spread (min-max), and the
ratio of the medians.
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    for t in [int(s) for s in a.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(t))
        ours = Worker("augment", [exe, "--serve", "--batch", str(a.batch), "--threads", str(t)],
                      env)
        torch = Worker("torch", ["/usr/bin/python3", os.path.join(ROOT, "bench",
                                                                  "nn_bench_torch.py"),
                                 "--threads", str(t), "--batch", str(a.batch)], env)
        print("threads %d: %s | %s" % (t, ours.banner, torch.banner), flush=True)
        # size the rounds: about --seconds each at the first measured speed
        steps = {w: max(2, int(a.seconds * w.run(3) / a.batch)) for w in (ours, torch)}
        rates = {ours: [], torch: []}
        for r in range(a.rounds):
            order = (ours, torch) if r % 2 == 0 else (torch, ours)
            for w in order:
                rates[w].append(w.run(steps[w]))
            print("  round %d: augment %7.0f  torch %7.0f img/s" %
                  (r + 1, rates[ours][-1], rates[torch][-1]), flush=True)
        ours.close()
        torch.close()
        mo, mt = statistics.median(rates[ours]), statistics.median(rates[torch])
        results.append((t, mo, min(rates[ours]), max(rates[ours]), mt, min(rates[torch]),
                        max(rates[torch])))

    print()
    print("reference model (samples/models/fmnist.model), batch %d, forward+backward, "
          "median of %d rounds" % (a.batch, a.rounds))
    print("%-8s %22s %22s %7s" % ("threads", "augment img/s", "torch img/s", "ratio"))
    for t, mo, lo, hi, mt, tlo, thi in results:
        print("%-8d %7.0f (%5.0f-%5.0f) %7.0f (%5.0f-%5.0f) %6.2fx" %
              (t, mo, lo, hi, mt, tlo, thi, mo / mt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
