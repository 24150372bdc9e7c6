#!/usr/bin/env python3
"""keel's benchmark suite (run it with `make bench` or `bash bench/run`).

Every figure is a ratio against a baseline measured in the same run on the
same server, because these machines are noisy. Workloads are generated
deterministically. Options: --quick (smaller sizes, fewer runs), --peers
(not available: see the note printed), --only=W9 or --only=W10 (only those
rows: the others are not measured).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.path.join(ROOT, "target/release/keel")
BASELINE = os.path.join(ROOT, "target/release/examples/sqlparser_baseline")
FLOOR = os.path.join(ROOT, "target/release/examples/connect_floor")
QUICK = "--quick" in sys.argv
PEERS = "--peers" in sys.argv
ONLY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Server:
    """A throwaway PostgreSQL: keel's own dev-db in a scratch project."""

    def __init__(self, work):
        self.work = work
        out = sh([KEEL, "dev-db", "start"], cwd=work).stdout.strip().splitlines()
        self.admin = out[-1]
        # 10,000 migrations in one transaction lock some 40,000 relations
        # (tables, indexes, sequences): more than the default lock table
        # holds, for psql as for keel. Raise it and restart.
        sh(["psql", "-X", "-q", self.admin, "-c", "ALTER SYSTEM SET max_locks_per_transaction = 1024"])
        sh([KEEL, "dev-db", "stop"], cwd=work)
        out = sh([KEEL, "dev-db", "start"], cwd=work).stdout.strip().splitlines()
        self.admin = out[-1]

    def url(self, db):
        return self.admin.replace("/postgres?", f"/{db}?", 1)

    def reset(self, db):
        sh(["psql", "-X", "-q", self.admin, "-c", f"DROP DATABASE IF EXISTS {db}", "-c", f"CREATE DATABASE {db}"])

    def reset_cmd(self, db):
        return f"psql -X -q '{self.admin}' -c 'DROP DATABASE IF EXISTS {db}' -c 'CREATE DATABASE {db}'"

    def stop(self):
        subprocess.run([KEEL, "dev-db", "stop"], cwd=self.work, capture_output=True)


def bodies(n):
    """The (up, down) SQL of n migrations, each a realistic small DDL step."""
    out = []
    for i in range(1, n + 1):
        up = (
            f"CREATE TABLE t{i} (\n"
            f"    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
            f"    tenant_id uuid NOT NULL,\n"
            f"    name text NOT NULL,\n"
            f"    note text,\n"
            f"    created_at timestamptz NOT NULL DEFAULT now()\n"
            f");\n"
            f"CREATE INDEX t{i}_tenant_idx ON t{i} (tenant_id);\n"
        )
        out.append((up, f"DROP TABLE t{i};\n"))
    return out


def gen_project(path, n, width=5):
    """n migrations as a keel project, plus the same SQL concatenated."""
    up = os.path.join(path, "sql/up")
    down = os.path.join(path, "sql/down")
    os.makedirs(up)
    os.makedirs(down)
    all_up, all_down = [], []
    for i, (body, back) in enumerate(bodies(n), 1):
        name = f"{i:0{width}d}_create_t{i}.sql"
        with open(os.path.join(up, name), "w") as f:
            f.write(body)
        with open(os.path.join(down, name), "w") as f:
            f.write(back)
        all_up.append(body)
        all_down.append(back)
    # From inside the scratch folder: never the dev database of the
    # folder bench/run was started from.
    sh([KEEL, "--dir", os.path.join(path, "sql"), "seal"], cwd=path)
    with open(os.path.join(path, "all_up.sql"), "w") as f:
        f.write("".join(all_up))
    with open(os.path.join(path, "all_down.sql"), "w") as f:
        f.write("".join(reversed(all_down)))
    return os.path.join(path, "sql")


def gen_big(path, mb):
    """One migration of `mb` MB of multi-row INSERTs (strings hold `;`)."""
    up = os.path.join(path, "sql/up")
    down = os.path.join(path, "sql/down")
    os.makedirs(up)
    os.makedirs(down)
    target = mb * 1024 * 1024
    parts = ["CREATE TABLE big (id bigint PRIMARY KEY, label text NOT NULL, qty int, at timestamptz);\n"]
    size = len(parts[0])
    row_id = 0
    while size < target:
        rows = []
        for _ in range(100):
            row_id += 1
            rows.append(f"({row_id}, 'item {row_id}; shelf {row_id % 97} -- not a comment', {row_id % 1000}, now())")
        stmt = "INSERT INTO big (id, label, qty, at) VALUES\n  " + ",\n  ".join(rows) + ";\n"
        parts.append(stmt)
        size += len(stmt)
    with open(os.path.join(up, "0001_big.sql"), "w") as f:
        f.write("".join(parts))
    with open(os.path.join(down, "0001_big.sql"), "w") as f:
        f.write("DROP TABLE big;\n")
    # From inside the scratch folder: never the dev database of the
    # folder bench/run was started from.
    sh([KEEL, "--dir", os.path.join(path, "sql"), "seal"], cwd=path)
    return os.path.join(path, "sql"), size


def gen_rejected(path, n):
    """One migration of n statements sqlparser rejects (and PostgreSQL too):
    n diagnostics in one file."""
    up = os.path.join(path, "sql/up")
    down = os.path.join(path, "sql/down")
    os.makedirs(up)
    os.makedirs(down)
    with open(os.path.join(up, "0001_rejected.sql"), "w") as f:
        f.write("".join(f"CREATE TABLE t{i} (a int,, b int);\n" for i in range(n)))
    with open(os.path.join(down, "0001_rejected.sql"), "w") as f:
        f.write("SELECT 1;\n")
    sh([KEEL, "--dir", os.path.join(path, "sql"), "seal"], cwd=path)
    return os.path.join(path, "sql")


def run_diagnostics(server, work, runs, row):
    """W9: the cost of a diagnostic does not grow with their number (a file
    of 40,000 once took minutes and gigabytes: positions were recomputed
    from the start of the file for each)."""
    sizes = (1000, 10000)
    url = server.url("bench")
    for mode, flags in (("offline", "check --offline"), ("online", f"--database-url '{url}' check")):
        per = {}
        for n in sizes:
            sql = gen_rejected(os.path.join(work, f"rejected_{mode}_{n}"), n)
            # Rendered (not --quiet): printing is part of a diagnostic's cost.
            # keel exits 1 (the file has errors): hyperfine must not stop.
            (t,) = hyperfine([f"{KEEL} --dir {sql} {flags} >/dev/null 2>&1 || true"], runs=runs, warmup=1)
            per[n] = t / n
        row(
            f"W9 check {mode}: per diagnostic, {sizes[1]} / {sizes[0]}",
            per[sizes[1]] * 1e6, per[sizes[0]] * 1e6, "<= 1.3", unit="us",
            note=f"microseconds per diagnostic in a file of {sizes[1]} and of {sizes[0]} (process start included): linear when about 1",
        )


def run_fleet(server, work, runs, row, targets=100, migrations=10):
    """W10: `keel fleet` on many databases against a shell loop of one keel per database."""
    path = os.path.join(work, "fleet")
    sql = gen_project(path, migrations)
    names = [f"fleet_{i}" for i in range(targets)]
    with open(os.path.join(path, "fleet.toml"), "w") as f:
        f.write("[fleet]\nparallel = 4\n")
        for name in names:
            f.write(f'\n[[fleet.targets]]\nname = "{name}"\nurl = "{server.url(name)}"\n')
    reset = os.path.join(path, "reset.sql")
    with open(reset, "w") as f:
        for name in names:
            f.write(f"DROP DATABASE IF EXISTS {name};\nCREATE DATABASE {name};\n")
    reset_cmd = f"psql -X -q '{server.admin}' -f {reset}"
    loop = os.path.join(path, "loop.sh")
    with open(loop, "w") as f:
        f.write("set -e\n")
        for name in names:
            f.write(f"{KEEL} --quiet --database-url '{server.url(name)}' --dir {sql} \"$@\"\n")
    # From inside the scratch folder, so no keel.toml of the repository applies. Round by round
    # (each from fresh databases, the reset untimed): a run takes seconds, and this machine's
    # speed drifts by half over a minute; in two blocks the drift lands on one side.
    t_fleet, t_loop = interleaved(
        [
            ([KEEL, "--quiet", "--dir", sql, "fleet", "--file", "fleet.toml", "upgrade"], path),
            (["bash", loop, "upgrade"], path),
        ],
        rounds=runs, warmup=0, prepare=reset_cmd,
    )
    row(
        f"W10 fleet upgrade {targets} dbs x {migrations} / loop",
        t_fleet, t_loop, "<= 0.5",
        note=f"parallel = 4 against `keel upgrade` once per database, one after another ({os.cpu_count()} cores); median of {runs} interleaved rounds",
    )
    urls = os.path.join(path, "urls.txt")
    with open(urls, "w") as f:
        f.write("".join(f"{server.url(name)}\n" for name in names))
    # Interleaved, round by round: these three take a fraction of a second to a second each, and
    # this machine's speed drifts over that span; one after another, a drift lands on one of
    # them only and moves the ratio.
    t_status, t_current, t_floor = interleaved(
        [
            ([KEEL, "--quiet", "--dir", sql, "fleet", "--file", "fleet.toml", "status"], path),
            (["bash", loop, "current"], path),
            ([FLOOR, "4", urls], path),
        ],
        rounds=3 * runs,
    )
    row(
        f"W10 fleet status {targets} dbs / loop of current",
        t_status, t_current, "<= 0.25",
        note=f"status also reads drift and policy drift; current reads the version only; median of {3 * runs} interleaved rounds",
    )
    row(
        f"W10 floor: connect only, {targets} dbs / loop",
        t_floor, t_current, "",
        note="keel's own connection to each database, 4 at a time, asking nothing: the least any status costs here",
    )


def interleaved(cmds, rounds, warmup=1, prepare=None):
    """Median seconds of each (argv, cwd) command, run once each per round, in turn; the shell
    command `prepare`, when given, runs untimed before each."""
    times = [[] for _ in cmds]
    for r in range(warmup + rounds):
        for i, (argv, cwd) in enumerate(cmds):
            if prepare:
                subprocess.run(prepare, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r >= warmup:
                times[i].append(time.perf_counter() - start)
    return [sorted(t)[len(t) // 2] for t in times]


def hyperfine(cmds, runs, warmup=1, prepare=None, shell=True, env=None):
    """Median seconds of each command."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    args = ["hyperfine", "--style", "none", "--runs", str(runs), "--warmup", str(warmup), "--export-json", out]
    if not shell:
        args.append("-N")
    if prepare:
        args += ["--prepare", prepare]
    args += cmds
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"hyperfine {cmds}: {r.stderr[-3000:]}")
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    return [r["median"] for r in data["results"]]


def peak_rss_kib(cmd, env=None):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr[-2000:]}")
    return int(r.stderr.strip().splitlines()[-1])


def run_peers(server, work, n, keel_times, runs, rows):
    """W7: each peer's time as a ratio to keel's (above 1: keel is faster)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peers

    found = peers.install()
    dirs = peers.write_projects(os.path.join(work, "peers"), bodies(n))
    url = server.url("peer")
    for name, (apply, status, env) in peers.commands(found, dirs, url).items():
        try:
            (t_apply,) = hyperfine([apply], runs=runs, warmup=0, prepare=server.reset_cmd("peer"), env=env)
            (t_noop,) = hyperfine([apply], runs=10, warmup=2, env=env)
            (t_status,) = hyperfine([status], runs=10, warmup=2, env=env)
        except RuntimeError as e:
            print(f"  {name}: not measured: {str(e)[-500:]}", file=sys.stderr)
            continue
        for label, t, k in (
            ("apply", t_apply, keel_times[("apply", n)]),
            ("no-op", t_noop, keel_times[("noop", n)]),
            ("status", t_status, keel_times[("status", n)]),
        ):
            rows.append({
                "workload": f"W7 {name} {label} {n} / keel",
                "keel": k, "baseline": t, "ratio": t / k, "target": ">= 1.0", "unit": "s",
                "note": "ratio = peer / keel: above 1, keel is faster",
            })


def main():
    sizes = [100, 1000, 2000] if QUICK else [100, 1000, 10000]
    big_mb = 20 if QUICK else 100
    runs = 3 if QUICK else 5
    work = tempfile.mkdtemp(prefix="keel-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    rows = []
    results = {"quick": QUICK, "machine": os.uname().nodename, "workloads": rows}

    def row(workload, keel, base, target, unit="s", note=""):
        ratio = keel / base if base else float("nan")
        rows.append(
            {"workload": workload, "keel": keel, "baseline": base, "ratio": ratio, "target": target, "unit": unit, "note": note}
        )
        print(f"  measured {workload}: ratio {ratio:.2f}", file=sys.stderr)

    server = Server(work)
    try:
        if ONLY:
            if "W9".startswith(ONLY):
                server.reset("bench")
                run_diagnostics(server, work, runs, row)
            if ONLY.startswith("W10"):
                run_fleet(server, work, runs, row)
            return report(rows, results, write=False)
        env_base = dict(os.environ)
        env_base.pop("DATABASE_URL", None)
        projects = {}
        for n in sizes:
            projects[n] = gen_project(os.path.join(work, f"p{n}"), n)
        n_main = 1000

        # W1 / W2 / W8: apply and no-op at every size.
        apply_ratio, noop_time, keel_times, noop_uncached = {}, {}, {}, {}
        for n in sizes:
            sql = projects[n]
            url = server.url("bench")
            r = 1 if n >= 5000 else runs
            keel_apply, psql_apply = hyperfine(
                [
                    f"{KEEL} --quiet --database-url '{url}' --dir {sql} upgrade",
                    f"psql -X -q -v ON_ERROR_STOP=1 -1 -f {os.path.dirname(sql)}/all_up.sql '{url}'",
                ],
                runs=r,
                warmup=0 if n >= 5000 else 1,
                prepare=server.reset_cmd("bench"),
            )
            apply_ratio[n] = keel_apply / psql_apply
            keel_times[("apply", n)] = keel_apply
            if n == n_main:
                row(f"W1 apply {n}", keel_apply, psql_apply, "<= 1.10")
            # At head: the no-op upgrade.
            server.reset("bench")
            sh([KEEL, "--quiet", "--database-url", url, "--dir", sql, "upgrade"])
            keel_noop, psql_noop = hyperfine(
                [
                    f"{KEEL} --quiet --database-url {url} --dir {sql} upgrade",
                    f"psql -X {url} -c 'select 1'",
                ],
                runs=30,
                warmup=3,
                shell=False,
            )
            noop_time[n] = keel_noop
            keel_times[("noop", n)] = keel_noop
            if n == sizes[-1]:
                # The same without the remembered listing (no cache folder).
                no_cache = dict(os.environ, XDG_CACHE_HOME="/dev/null/none")
                (noop_uncached[n],) = hyperfine(
                    [f"{KEEL} --quiet --database-url {url} --dir {sql} upgrade"],
                    runs=30, warmup=3, shell=False, env=no_cache,
                )
            if n == n_main:
                row(f"W2 no-op upgrade {n}", keel_noop, psql_noop, "<= 0.55")
                k_cur, k_check, p = hyperfine(
                    [
                        f"{KEEL} --quiet --database-url {url} --dir {sql} current",
                        f"{KEEL} --quiet --database-url {url} --dir {sql} check",
                        f"psql -X {url} -c 'select 1'",
                    ],
                    runs=20,
                    warmup=2,
                    shell=False,
                )
                keel_times[("status", n)] = k_cur
                row(f"W3 current {n}", k_cur, p, "<= 0.6")
                row(f"W3 check online {n}", k_check, p, "<= 1.5")
                # W6: downgrade base, from head.
                keel_down, psql_down = hyperfine(
                    [
                        f"{KEEL} --quiet --database-url '{url}' --dir {sql} downgrade base",
                        f"psql -X -q -v ON_ERROR_STOP=1 -1 -f {os.path.dirname(sql)}/all_down.sql '{url}'",
                    ],
                    runs=runs,
                    warmup=0,
                    prepare=f"{server.reset_cmd('bench')} && {KEEL} --quiet --database-url '{url}' --dir {sql} upgrade",
                )
                row(f"W6 downgrade base {n}", keel_down, psql_down, "<= 1.10")
                # W5: peak RSS of the apply.
                server.reset("bench")
                rss = peak_rss_kib([KEEL, "--quiet", "--database-url", url, "--dir", sql, "upgrade"])
                server.reset("bench")
                rss_psql = peak_rss_kib(["psql", "-X", "-q", "-1", "-f", os.path.dirname(sql) + "/all_up.sql", url])
                row(f"W5 peak RSS of W1 {n}", rss / 1024, rss_psql / 1024, "<= 10 MiB", unit="MiB", note="baseline: psql")
            server.reset("bench")
            rss_n = peak_rss_kib([KEEL, "--quiet", "--database-url", url, "--dir", sql, "upgrade"])
            results.setdefault("rss_by_n_mib", {})[n] = rss_n / 1024
        top = sizes[-1]
        row(
            f"W8 apply ratio {top} - ratio {n_main}",
            apply_ratio[top],
            apply_ratio[n_main],
            "<= +0.05",
            unit="ratio",
            note=f"W1 ratio at {top} vs at {n_main}; the 'ratio' column here is their quotient",
        )
        rows[-1]["ratio"] = apply_ratio[top] - apply_ratio[n_main]
        row(f"W8 no-op {top} / no-op {sizes[0]}", noop_time[top], noop_time[sizes[0]], "<= 1.5",
            note="the folders' listing is remembered between runs (keyed on their mtime and ctime)")
        row(f"W8 no-op {top}, no listing cache / no-op {sizes[0]}", noop_uncached[top], noop_time[sizes[0]], "(info)",
            note="every run lists the 20,000 files")

        # W4: offline check throughput against sqlparser alone.
        sql = projects[n_main]
        files = sorted(
            os.path.join(d, f) for d in (os.path.join(sql, "up"), os.path.join(sql, "down")) for f in os.listdir(d)
        )
        b = sh([BASELINE] + files).stdout.split()
        base_bytes, base_stmts, base_secs = int(b[0]), int(b[1]), float(b[2])
        (k_all,) = hyperfine([f"{KEEL} --quiet --dir {sql} check --offline"], runs=10, warmup=2, shell=False)
        (k_one,) = hyperfine([f"taskset -c 0 {KEEL} --quiet --dir {sql} check --offline"], runs=10, warmup=2, shell=False)
        # The same baseline timed as a process, like keel: it starts, reads
        # the 2,000 files and parses their statements on one core.
        with open(os.path.join(work, "w4_files.txt"), "w") as f:
            f.write(" ".join(files))
        (b_proc,) = hyperfine([f"taskset -c 0 {BASELINE} $(cat {work}/w4_files.txt)"], runs=10, warmup=2)
        mbs = lambda nbytes, secs: nbytes / secs / 1e6
        rows.append({
            "workload": f"W4 check --offline {n_main} pairs, 1 core",
            "keel": mbs(base_bytes, k_one), "baseline": mbs(base_bytes, base_secs),
            "ratio": base_secs / k_one, "target": ">= 0.85", "unit": "MB/s",
            "note": f"{base_stmts / k_one:.0f} statements/s (sqlparser alone {base_stmts / base_secs:.0f})",
        })
        rows.append({
            "workload": f"W4 check --offline {n_main} pairs, all cores",
            "keel": mbs(base_bytes, k_all), "baseline": mbs(base_bytes, base_secs),
            "ratio": base_secs / k_all, "target": ">= 1.6", "unit": "MB/s",
            "note": f"{base_stmts / k_all:.0f} statements/s",
        })
        rows.append({
            "workload": f"W4 {n_main} pairs, 1 core, baseline as a process",
            "keel": mbs(base_bytes, k_one), "baseline": mbs(base_bytes, b_proc),
            "ratio": b_proc / k_one, "target": "(info)", "unit": "MB/s",
            "note": "baseline process: start, read the same files, split, parse (timed like keel)",
        })
        big_sql, big_size = gen_big(os.path.join(work, "big"), big_mb)
        big_file = os.path.join(big_sql, "up/0001_big.sql")
        b = sh([BASELINE, big_file]).stdout.split()
        bb, bs, bt = int(b[0]), int(b[1]), float(b[2])
        (k_big,) = hyperfine([f"{KEEL} --quiet --dir {big_sql} check --offline"], runs=3, warmup=1, shell=False)
        rows.append({
            "workload": f"W4 check --offline one {big_mb} MB file",
            "keel": mbs(bb, k_big), "baseline": mbs(bb, bt), "ratio": bt / k_big, "target": ">= 1.6",
            "unit": "MB/s", "note": f"{bs / k_big:.0f} statements/s (sqlparser alone {bs / bt:.0f}); its statements are parsed on all cores",
        })
        # W5: peak RSS applying the big file.
        server.reset("bench")
        rss_big = peak_rss_kib([KEEL, "--quiet", "--database-url", server.url("bench"), "--dir", big_sql, "upgrade"])
        rows.append({
            "workload": f"W5 peak RSS applying the {big_mb} MB file",
            "keel": rss_big / 1024, "baseline": big_size / 1024 / 1024, "ratio": rss_big * 1024 / big_size,
            "target": "<= 2.5", "unit": "MiB", "note": "baseline: the file's size",
        })
        rss = results.get("rss_by_n_mib", {})
        rows.append({
            "workload": f"W5 peak RSS flat in N ({', '.join(str(k) for k in rss)})",
            "keel": rss[top], "baseline": rss[sizes[0]], "ratio": rss[top] / rss[sizes[0]], "target": "flat",
            "unit": "MiB", "note": ", ".join(f"{v:.1f}" for v in rss.values()),
        })
        server.reset("bench")
        run_diagnostics(server, work, runs, row)
        run_fleet(server, work, runs, row)
        if PEERS:
            run_peers(server, work, n_main, keel_times, runs, rows)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(rows, results)


def report(rows, results, write=True):
    print()
    print(f"{'workload':<46} {'keel':>10} {'baseline':>10} {'ratio':>7}  target")
    for r in rows:
        mark = ""
        t = r["target"]
        try:
            if t.startswith("<="):
                lim = float(t.split()[1].lstrip("+"))
                val = r["keel"] if "MiB" in t else r["ratio"]
                mark = "" if val <= lim else "  MISSED"
            elif t.startswith(">="):
                mark = "" if r["ratio"] >= float(t.split()[1]) else "  MISSED"
        except ValueError:
            pass
        unit = r["unit"]
        fmt = (lambda v: f"{v * 1000:.1f} ms") if unit == "s" else (lambda v: f"{v:.2f}")
        print(f"{r['workload']:<46} {fmt(r['keel']):>10} {fmt(r['baseline']):>10} {r['ratio']:>7.2f}  {t}{mark}")
        if r["note"]:
            print(f"{'':<46} {r['note']}")
    if not write:
        # A partial run (--only) leaves the full results in place.
        return
    with open(os.path.join(ROOT, "bench/results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print("\nwritten bench/results.json")


if __name__ == "__main__":
    main()
