"""The prompt-injection guard's cost on the request path: app/services/injection.py's
detect() on 10,000-character messages (an ordinary pasted manual, and inputs built to
be slow: a spelled-out trigger word, a run of chat-template markers), over one plain
regular-expression scan of the same text (the least a check can cost) in the same run."""

import re
import time

from app.services.injection import detect
from bench.harness import median, report

MANUAL = ("To reset the device, hold the power button for ten seconds. The system restarts "
          "and shows the setup screen. Follow the instructions on the display; if the "
          "problem persists, contact support. Der Vertrag tritt morgen in Kraft. ")
INPUTS = {
    "ordinary manual": MANUAL,
    "spelled out 'i g n o r e'": "i g n o r e ",
    "'system:' lines": "system:\n",
    "'<|' markers": "<|",
}
RUNS = 200
PLAIN = re.compile(r"ignore (?:all )?previous instructions", re.IGNORECASE)


def _milliseconds(check, text: str) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        check(text)
        times.append(time.perf_counter() - started)
    return median(times) * 1000


def injection_guard() -> None:
    rows = []
    for name, unit in INPUTS.items():
        text = (unit * (10_000 // len(unit) + 1))[:10_000]
        guard, plain = _milliseconds(detect, text), _milliseconds(PLAIN.search, text)
        rows.append((f"{name}, ms", f"{guard:.2f}", f"{plain:.3f}", f"{guard / plain:.0f}"))
    report(f"injection guard: detect() on 10,000 characters, median of {RUNS} (baseline: "
           "one plain regex scan of the same text)", rows)
