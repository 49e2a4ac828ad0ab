"""``meliae demo``: dump a leaky sample program and walk through its analysis.

The walkthrough follows the classic Meliae announcement: load the dump, look at
the summary table, fold instance ``__dict__``s into their owners, then go past
it: compute who retains what, list the leak suspects, print the chain of
references that keeps the leak alive, and diff against an earlier dump.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

SAMPLE = Path(__file__).resolve().parent / "examples" / "leaky_app.py"


def _say(text: str) -> None:
    print(text, flush=True)


def _run_sample(dump: Path, requests: int) -> None:
    cmd = [sys.executable, "-m", "meliae", "run", "--dump-at-exit", str(dump),
           str(SAMPLE), "--requests", str(requests)]
    _say(f"$ python -m meliae run --dump-at-exit {dump.name} leaky_app.py --requests {requests}")
    subprocess.run(cmd, check=True)
    _say(f"  wrote {dump.name}: {dump.stat().st_size / 1e6:.1f} MB")


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the demo; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="meliae demo",
        description="Run a bundled program with a deliberate leak, dump its heap "
                    "and print the analysis that finds the leak.")
    parser.add_argument("--requests", type=int, default=20000,
                        help="requests the sample program serves (default 20000)")
    parser.add_argument("--keep", metavar="DIR",
                        help="write the dumps into DIR and keep them")
    args = parser.parse_args(argv)

    from meliae import loader  # imported late: `meliae --help` stays fast
    import meliae

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="meliae-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        early = workdir / "leaky-early.json"
        late = workdir / "leaky.json"
        _say("== 1. Run the sample program twice and dump its heap at exit")
        _run_sample(early, max(1, args.requests // 4))
        _run_sample(late, args.requests)

        _say("\n== 2. Load the dump and summarize it")
        _say(">>> from meliae import loader")
        _say(f">>> om = loader.load('{late.name}', collapse=False)")
        om = loader.load(str(late), collapse=False, show_prog=sys.stderr.isatty())
        _say(">>> om.summarize()")
        _say(repr(om.summarize()))

        _say("\n== 3. Fold instance __dict__s into their owners")
        _say(">>> om.collapse_instance_dicts(); om.summarize()")
        om.collapse_instance_dicts()
        _say(repr(om.summarize()))

        _say("\n== 4. Who retains the memory? (dominator tree)")
        _say(">>> om.compute_dominators(); om.summarize()")
        om.compute_dominators()
        _say(repr(om.summarize()))
        _say(">>> om.top(5, by='retained')")
        for obj in om.top(5, by="retained"):
            _say(f"  {obj!r}  retains {obj.retained_size} bytes")

        _say("\n== 5. Leak suspects")
        _say(">>> om.suspects()")
        report = om.suspects()
        _say(repr(report))

        _say("\n== 6. Why is it alive? The path from the roots")
        top = om.top(1, by="retained")
        culprit = report.suspects[0].obj if report.suspects else top[0]
        _say(f">>> om[{culprit.address}].why()")
        _say(str(culprit.why()))

        _say("\n== 7. What grew since the earlier dump?")
        _say(f">>> meliae.diff('{early.name}', '{late.name}')")
        _say(repr(meliae.diff(str(early), str(late))))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
