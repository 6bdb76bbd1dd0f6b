#!/usr/bin/env python3
"""Hostile clients against a server while wrk measures the normal load it still serves.

Targets (each started afresh for each scenario, on 127.0.0.1:PORT; serve-compare and
poll-compare are serve and poll with the wasix-rt binary given by --compare):
  serve  `wasix-rt serve` of c-baseline/echo_handler.c built as wasm32-wasi (reads the request
         head to its blank line, answers the request line, closes), with its log at warn
         (RUST_LOG=wasix_rt=warn) and its default limits.
  poll   `wasix-rt run --net` of c-baseline/http_poll.c built as WASIX (a single-threaded
         keep-alive server on poll()).
  native the same http_poll.c built natively with gcc: the oracle, which shows what the attack
         costs a server that has no runtime at all on the same cores.

Scenarios, each with wrk -t1 -cWRK_CONNS running for DURATION seconds alongside:
  alone      the normal load by itself, the reference row;
  slowloris  SLOWLORIS connections: half connect and send nothing, half send a request line
             and then one header byte per second, never ending the headers;
  flood      FLOOD connections held open at once, sending nothing, each opened again 100 ms
             after the server closes it (past `serve --max-connections` they are refused);
  resets     clients that reset the connection (SO_LINGER 0) before sending, mid-request and
             after the first byte of the response, in a loop;
  oversized  clients that send a 1 MiB header line and read until the server closes.

With --runs N, the scenarios of every target run N times in turn (alone, slowloris, ...,
alone, slowloris, ...), each on a fresh server, so that the machine's drift hits every row alike; a row then gives the
median requests/s and p99 of its runs, the range of requests/s, and the other figures of its
last run.

Printed: one markdown table per target: requests/s and p99 of the normal load, their ratio to
the `alone` row, wrk's socket errors, what the attack saw (connections opened, in brackets
those opened while wrk ran as the attack's event loop counted them, and those the server
closed), the CPU the server and the attacking clients used while wrk ran (in cores: 100% is
one core busy), the server's open fds before the attack and 3 s after it, and whether it was
still running. With --pin on a 2-core machine wrk and the attack share a core: a server whose
CPU stays well under 100% lost its requests/s to the attack's share of wrk's core, not to the
attack itself; with --attack-idle the attack takes only the CPU wrk leaves. Every loop is
bounded in time; the script stops every server it started.

  scripts/hostile-load.py                         # every target, 10 s per scenario
  scripts/hostile-load.py --targets serve --duration 5 --slowloris 200
  scripts/hostile-load.py --targets serve --scenarios "alone slowloris" --runs 5
  scripts/hostile-load.py --targets "serve serve-compare" --compare OLD/wasix-rt --runs 5
  scripts/hostile-load.py --targets "serve poll native" --scenarios "alone flood" --pin --attack-idle
"""

import argparse
import asyncio
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WASIX_RT = os.path.join(ROOT, "target", "release", "wasix-rt")
SCENARIOS = ["alone", "slowloris", "flood", "resets", "oversized"]


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(["bash", "c-baseline/build.sh"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def start(target, port, compare=None, cpus=None):
    env = dict(os.environ, RUST_LOG="wasix_rt=warn")
    rt = compare if target.endswith("-compare") else WASIX_RT
    if target.startswith("serve"):
        cmd = [rt, "serve", "--listen", f"127.0.0.1:{port}", "target/c-baseline/echo_handler.wasm"]
    elif target.startswith("poll"):
        cmd = [rt, "run", "--net", "target/c-baseline/http_poll.wasm", str(port)]
    else:
        cmd = ["target/c-baseline/http_poll", str(port)]
    log = tempfile.TemporaryFile()
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=pin)
    proc.log = log
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"hostile-load: {target} exited at start: {last_lines(proc)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"hostile-load: {target} did not listen on port {port} within 60 s")


def last_lines(proc, n=5):
    proc.log.seek(0)
    return "\n".join(proc.log.read().decode(errors="replace").splitlines()[-n:])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def open_fds(proc):
    try:
        return len(os.listdir(f"/proc/{proc.pid}/fd"))
    except FileNotFoundError:
        return None


def parse_wrk(out):
    def num(pattern, default=0.0):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else default

    def ms(pattern):
        m = re.search(pattern, out)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": num(r"Requests/sec:\s+([\d.]+)"),
        "p99": ms(r"\s99%\s+([\d.]+)(us|ms|s)\b"),
        "errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


class Attack:
    """The hostile clients of one scenario, run on an asyncio loop until `stop` is set."""

    def __init__(self, port, kind, size):
        self.port, self.kind, self.size = port, kind, size
        self.opened = 0
        self.closed_by_server = 0
        self.stop = asyncio.Event()
        # Every connection's writer, so that the end of the scenario closes them all.
        self.writers = set()

    async def connect(self):
        r, w = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened += 1
        self.writers.add(w)
        return r, w

    def close(self, w):
        w.transport.abort()
        self.writers.discard(w)

    def close_all(self):
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    def reset(self, w):
        sock = w.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close(w)

    async def wait_closed(self, r, seconds):
        """Reads until the server closes (True) or `seconds` pass (False)."""
        try:
            while await asyncio.wait_for(r.read(65536), seconds):
                pass
            return True
        except (asyncio.TimeoutError, OSError):
            return False

    async def idle(self):
        while not self.stop.is_set():
            try:
                r, w = await self.connect()
            except OSError:
                await asyncio.sleep(0.1)
                continue
            while not self.stop.is_set():
                if await self.wait_closed(r, 0.5):
                    self.closed_by_server += 1
                    break
            self.close(w)
            await asyncio.sleep(0.1)

    async def trickle(self):
        while not self.stop.is_set():
            try:
                r, w = await self.connect()
                w.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
                await w.drain()
            except OSError:
                await asyncio.sleep(0.1)
                continue
            while not self.stop.is_set():
                try:
                    w.write(b"X")
                    await w.drain()
                except OSError:
                    self.closed_by_server += 1
                    break
                if await self.wait_closed(r, 1.0):
                    self.closed_by_server += 1
                    break
            self.close(w)
            await asyncio.sleep(0.1)

    async def resets(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                r, w = await self.connect()
                if i % 3 == 1:
                    w.write(b"GET / HTTP/1.1\r\nHo")
                    await w.drain()
                elif i % 3 == 2:
                    w.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    await w.drain()
                    await asyncio.wait_for(r.read(1), 2)
                self.reset(w)
            except (OSError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.01)

    async def oversized(self):
        line = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
        while not self.stop.is_set():
            try:
                r, w = await self.connect()
                w.write(line)
                await asyncio.wait_for(w.drain(), 5)
            except (OSError, asyncio.TimeoutError):
                self.closed_by_server += 1
                await asyncio.sleep(0.05)
                continue
            if await self.wait_closed(r, 5):
                self.closed_by_server += 1
            self.close(w)
            await asyncio.sleep(0.05)

    def tasks(self):
        if self.kind == "slowloris":
            half = self.size // 2
            return [self.idle() for _ in range(half)] + [self.trickle() for _ in range(self.size - half)]
        if self.kind == "flood":
            return [self.idle() for _ in range(self.size)]
        if self.kind == "resets":
            return [self.resets() for _ in range(self.size)]
        if self.kind == "oversized":
            return [self.oversized() for _ in range(self.size)]
        return []


def cpu_shares(out):
    """The server's and the attack's CPU while wrk ran, in cores, from the two stamps the
    shell around wrk printed (a time, then each process's /proc/PID/stat)."""
    stamps = [line[3:] for line in out.splitlines() if line.startswith("@@ ")]
    if len(stamps) != 6:
        return None, None

    def cpu(stat):
        fields = stat[stat.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    wall = float(stamps[3]) - float(stamps[0])
    return tuple((cpu(stamps[3 + i]) - cpu(stamps[i])) / wall for i in (1, 2))


def normal_priority():
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


async def scenario(port, kind, size, duration, wrk_conns, server_pid, attack_idle):
    attack = Attack(port, kind, size)
    tasks = [asyncio.ensure_future(t) for t in attack.tasks()]
    await asyncio.sleep(2 if tasks else 0)
    # The CPU times are read by the shell around wrk, at wrk's priority: an attack at
    # SCHED_IDLE may see wrk's end late. wrk leaves SCHED_IDLE behind: the attack then gets
    # only the CPU wrk does not use.
    stamp = 'echo "@@ $(date +%s.%N)"; for p in "$S" "$A"; do echo "@@ $(cat /proc/$p/stat)"; done'
    wrk = await asyncio.create_subprocess_exec(
        "sh", "-c", f'{stamp}; "$@"; {stamp}', "sh",
        "wrk", "-t1", f"-c{wrk_conns}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=dict(os.environ, S=str(server_pid), A=str(os.getpid())),
        preexec_fn=normal_priority if attack_idle else None)
    opened = attack.opened
    try:
        out, _ = await asyncio.wait_for(wrk.communicate(), duration + 60)
    except asyncio.TimeoutError:
        wrk.kill()
        await wrk.wait()
        print(f"{kind}: wrk did not finish within {duration + 60} s; killed", file=sys.stderr)
        out = b""
    attack.opened_during_wrk = attack.opened - opened
    attack.server_cpu, attack.attack_cpu = cpu_shares(out.decode())
    attack.stop.set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=10)
        for t in pending:
            t.cancel()
        attack.close_all()
        _, pending = await asyncio.wait(tasks, timeout=5)
        if pending:
            print(f"{kind}: {len(pending)} attack tasks did not end; left behind", file=sys.stderr)
    attack.close_all()
    return parse_wrk(out.decode()), attack


def run_scenario(*args, attack_idle=False):
    """Runs `scenario` on a loop of its own, closed without waiting for tasks that ignored
    their cancellation (asyncio.run would wait for them forever). With `attack_idle` the
    attack runs at SCHED_IDLE (sched(7)) and wrk at normal priority."""
    if attack_idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    loop = asyncio.new_event_loop()

    def quiet_about_left_tasks(loop, context):
        if not context.get("message", "").startswith("Task was destroyed but it is pending"):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_about_left_tasks)
    try:
        return loop.run_until_complete(scenario(*args, attack_idle))
    finally:
        loop.close()
        if attack_idle:
            normal_priority()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--targets", default="serve poll native", help="from 'serve poll native' (default all)")
    p.add_argument("--scenarios", default=" ".join(SCENARIOS))
    p.add_argument("--duration", type=int, default=10, help="seconds of wrk per scenario")
    p.add_argument("--wrk-conns", type=int, default=50)
    p.add_argument("--slowloris", type=int, default=500, help="slowloris connections")
    p.add_argument("--flood", type=int, default=3000, help="flood connections held at once")
    p.add_argument("--port", type=int, default=18090)
    p.add_argument("--runs", type=int, default=1, help="runs of every scenario, in turn")
    p.add_argument("--compare", metavar="WASIX_RT",
                   help="another wasix-rt binary, for the targets serve-compare and poll-compare")
    p.add_argument("--pin", action="store_true",
                   help="server on CPU 0, wrk and the attacking clients on CPU 1 (needs 2 CPUs): "
                        "the attack then costs the server what serving it costs, not a share of its core")
    p.add_argument("--attack-idle", action="store_true",
                   help="the attacking clients at SCHED_IDLE, wrk at normal priority: on a machine "
                        "where they share a core, the attack then takes only the CPU wrk leaves")
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not args.no_build:
        build()
    server_cpus = None
    if args.pin:
        if len(os.sched_getaffinity(0)) < 2:
            sys.exit("hostile-load: --pin needs 2 CPUs")
        server_cpus = {0}
        # wrk and the attack's event loop inherit this process's CPU.
        os.sched_setaffinity(0, {1})
    sizes = {"alone": 0, "slowloris": args.slowloris, "flood": args.flood, "resets": 20, "oversized": 20}
    targets = args.targets.split()
    if any(t.endswith("-compare") for t in targets) and not args.compare:
        sys.exit("hostile-load: the -compare targets need --compare WASIX_RT")
    results = {(t, k): [] for t in targets for k in args.scenarios.split()}
    # Every target's scenarios in turn, run after run: drift hits them all alike.
    for _, target, kind in [(r, t, k) for r in range(max(1, args.runs)) for t in targets
                            for k in args.scenarios.split()]:
        proc = start(target, args.port, args.compare, server_cpus)
        try:
            time.sleep(0.5)
            before = open_fds(proc)
            wrk, attack = run_scenario(args.port, kind, sizes[kind], args.duration, args.wrk_conns, proc.pid,
                                       attack_idle=args.attack_idle)
            time.sleep(3)
            after = open_fds(proc)
            alive = proc.poll() is None
            if not alive:
                print(f"{target} {kind}: the server exited {proc.returncode}: {last_lines(proc)}",
                      file=sys.stderr)
        finally:
            stop(proc)
        results[(target, kind)].append((wrk, attack, before, after, alive))
        print(f"{target} {kind}: {wrk['rps']:.0f} req/s, p99 {wrk['p99']} ms", file=sys.stderr)
    for target in targets:
        runs = {k: results[(target, k)] for k in args.scenarios.split()}
        rows = []
        for kind, results_of in runs.items():
            wrk = dict(results_of[-1][0])
            wrk["rps"] = median([w["rps"] for w, *_ in results_of])
            p99s = [w["p99"] for w, *_ in results_of if w["p99"] is not None]
            wrk["p99"] = median(p99s) if p99s else None
            wrk["errors"] = sum(w["errors"] for w, *_ in results_of)
            spread = (min(w["rps"] for w, *_ in results_of), max(w["rps"] for w, *_ in results_of))
            _, attack, before, after, _ = results_of[-1]
            alive = all(r[4] for r in results_of)
            rows.append((kind, wrk, spread, attack, before, after, alive))
        base = rows[0][1] if rows[0][0] == "alone" else None
        n = max(1, args.runs)
        pinned = ", server on CPU 0, clients on CPU 1" if args.pin else ""
        print(f"\n**{target}** (wrk -t1 -c{args.wrk_conns} -d{args.duration}s, {n} run{'s' if n > 1 else ''} each{pinned})\n")
        print("| attack | req/s | range | vs alone | p99 | p99 vs alone | wrk socket errors | attack: opened (while wrk ran) / closed by server | server CPU | attack CPU | fds before -> 3 s after | running after |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for kind, wrk, spread, attack, before, after, alive in rows:
            label = kind if kind == "alone" else f"{kind} ({sizes[kind]})"
            ratio = f"{wrk['rps'] / base['rps']:.2f}x" if base and base["rps"] else "-"
            p99 = f"{wrk['p99']:.2f} ms" if wrk["p99"] is not None else "-"
            p99r = f"{wrk['p99'] / base['p99']:.1f}x" if base and base["p99"] and wrk["p99"] else "-"
            print(f"| {label} | {wrk['rps']:.0f} | {spread[0]:.0f}-{spread[1]:.0f} | {ratio} | {p99} | {p99r} | {wrk['errors']} | "
                  f"{attack.opened} ({attack.opened_during_wrk}) / {attack.closed_by_server} | {percent(attack.server_cpu)} | {percent(attack.attack_cpu)} | {before} -> {after} | {'yes' if alive else 'NO'} |")


def percent(share):
    return "-" if share is None else f"{share:.0%}"


def median(values):
    v = sorted(values)
    return v[(len(v) - 1) // 2]


if __name__ == "__main__":
    main()
