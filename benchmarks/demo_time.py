"""How long the README's first command (install, then the demo) takes, end to end.

Usage::

    python benchmarks/demo_time.py            # runs the command from README.md in a shell, 3 times
    python benchmarks/demo_time.py --repeats 1 --no-save

Reads the first fenced ``bash`` block of ``README.md`` (the install-and-demo command), runs it from the
repository root as a user would (a shell, the packages already downloaded or installed), and reports the wall
seconds of the whole command and of the demo alone (``python -m sklearn_tsmask``), with the scores the demo
printed. The goal (issue "a demo that answers in seconds"): at most 20 s on two cores.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._measure import publish  # noqa: E402


def readme_command():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```bash\n(.+?)\n```", text, flags=re.S)
    if match is None:
        raise SystemExit("README.md has no ```bash block")
    return match.group(1).strip()


def timed(command, env):
    start = time.perf_counter()
    proc = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"`{command}` failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    command = readme_command()
    demo = command.rsplit("&&", 1)[-1].strip()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    rows = []
    for _ in range(args.repeats):
        whole, out = timed(command, env)
        alone, _ = timed(demo, env)
        rows.append((whole, alone))
    scores = dict(re.findall(r"^(AUP|AUR)\s+([0-9.]+)", out, flags=re.M))
    inner = re.search(r"^seconds\s+([0-9.]+)", out, flags=re.M)
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"## README demo, end to end — {date}, cpu\n",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}",
        "- command: `python benchmarks/demo_time.py" + (f" --repeats {args.repeats}" if args.repeats != 3 else "") + "`",
        f"- README command: `{command}` (packages already downloaded: the local torch wheel, the rest installed)",
        "",
        "| run | whole command (s) | demo alone (s) |",
        "|---|---|---|",
        *[f"| {i + 1} | {w:.1f} | {a:.1f} |" for i, (w, a) in enumerate(rows)],
        "",
        f"- the demo printed AUP {scores.get('AUP', '?')}, AUR {scores.get('AUR', '?')} (Rare-Feature, 20 series, "
        f"ExtremalMask with its defaults); the explanation itself: {inner.group(1) if inner else '?'} s",
        f"- goal: at most 20 s on two cores; max whole command {max(w for w, _ in rows):.1f} s",
    ]
    publish("\n".join(lines) + "\n", no_save=args.no_save)


if __name__ == "__main__":
    main()
