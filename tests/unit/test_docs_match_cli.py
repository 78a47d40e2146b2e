"""The docs name only what exists: every `hetier VERB --option` in README.md and docs/ is a verb
and an option of that verb (read from the argument parser itself), every bare `--option` is some
verb's or a named external tool's, and no "not yet" sentence names something hetier has."""

import re
import shlex
from pathlib import Path

import pytest

from hetier.cli.main import VERBS, build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# options of other tools the docs show (numactl, likwid-bench, pip): not hetier's
EXTERNAL_OPTIONS = {"--membind", "--cpunodebind", "--interleave", "--preferred", "--config-settings"}


def _options_by_verb() -> dict[str, set[str]]:
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(getattr(a, "choices", None), dict))
    top = {o for a in p._actions for o in a.option_strings}
    return {v: top | {o for a in sp._actions for o in a.option_strings} for v, sp in sub.choices.items()}


OPTIONS = _options_by_verb()


def _commands(text: str) -> list[str]:
    """`hetier VERB ...` commands: code-block lines (continuations joined) and inline code spans."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        m = re.match(r"\s*(?:\.venv/bin/)?hetier (\w[\w-]*)(.*)", line)
        if m:
            found.append(f"hetier {m.group(1)}{m.group(2).split('  #')[0].split(' # ')[0]}")
    found += [s for s in re.findall(r"`((?:\.venv/bin/)?hetier [^`]+)`", joined)]
    return found


def _problems(command: str) -> list[str]:
    try:
        words = shlex.split(command.replace("...", ""))
    except ValueError:
        words = command.split()
    words = words[1:] if words[0].endswith("hetier") else words
    verb = words[0] if words else ""
    if verb not in VERBS:
        return [f"'{command}': no verb '{verb}' (verbs: {', '.join(VERBS)})"] if re.fullmatch(r"[a-z]+", verb) else []
    return [f"'{command}': hetier {verb} has no option {w.split('=')[0]}" for w in words[1:]
            if w.startswith("-") and w != "-" and not re.fullmatch(r"-\d.*", w) and w.split("=")[0] not in OPTIONS[verb]]


def _all_problems(docs) -> list[str]:
    out = []
    for doc in docs:
        text = doc.read_text() if isinstance(doc, Path) else doc
        name = doc.name if isinstance(doc, Path) else "text"
        for c in _commands(text):
            out += [f"{name}: {p}" for p in _problems(c)]
        known = set().union(*OPTIONS.values()) | EXTERNAL_OPTIONS
        for opt in re.findall(r"`(--[a-z][\w-]*)", text):
            if opt not in known:
                out.append(f"{name}: option {opt} is no verb's")
    return out


def test_every_documented_verb_and_option_exists():
    assert len(_commands((ROOT / "README.md").read_text())) >= 30  # the scan sees the README's commands
    assert _all_problems(DOCS) == []


def test_the_check_finds_a_missing_verb_and_options():
    text = ("```sh\n.venv/bin/hetier replay t.arrow --machine dram-only \\\n    --no-such-flag -o r.arrow\n"
            "hetier simulate t.arrow\n```\nSee `hetier sweep t.arrow --workers 2 --turbo` and `--nothing`.\n")
    assert _all_problems([text]) == [
        "text: 'hetier replay t.arrow --machine dram-only --no-such-flag -o r.arrow': hetier replay has no option "
        "--no-such-flag",
        "text: 'hetier simulate t.arrow': no verb 'simulate' (verbs: " + ", ".join(VERBS) + ")",
        "text: 'hetier sweep t.arrow --workers 2 --turbo': hetier sweep has no option --turbo",
        "text: option --nothing is no verb's"]


def _features() -> dict[str, bool]:
    """Things a "not yet" sentence might name, each with whether hetier has it (from the code)."""
    from hetier.simulator.machines import machine_presets
    from hetier.simulator.policies import POLICIES

    has = {"dask": "--scheduler" in OPTIONS["sweep"], "integer programming": "ilp" in POLICIES,
           "milp": "ilp" in POLICIES, "migration": "migrate" in POLICIES, "hot/cold": "hot-cold" in POLICIES,
           "lifetime": "lifetime" in POLICIES, "perfetto": "--format" in OPTIONS["export"],
           "python api": (ROOT / "hetier/api.py").exists(), "notebook": (ROOT / "examples").is_dir(),
           "cxl": "ddr5-cxl" in machine_presets(), "memory mode": "optane-memory-mode" in machine_presets()}
    has.update({p: True for p in POLICIES if p != "placement"})  # placement:FILE, a word of every sentence here
    has.update({v: True for v in VERBS if len(v) > 4})
    return has


NOT_YET = re.compile(r"[^.\n]*(?:not yet (?:there|supported|implemented|available|done|possible)|not there yet|"
                     r"(?:does|do|is|are|can) not yet|isn't yet|aren't yet|TODO)[^.]*(?:\.|$)", re.I)


def _stale(text: str) -> list[str]:
    have = _features()
    out = []
    for sentence in NOT_YET.findall(text):
        s = sentence.lower()
        named = [f for f, exists in have.items() if exists and re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", s)]
        named += [o for o in re.findall(r"--[a-z][\w-]*", s) if any(o in opts for opts in OPTIONS.values())]
        if named:
            out.append(f"{sentence.strip()[:120]!r} names what exists: {', '.join(sorted(set(named)))}")
    return out


def test_no_not_yet_sentence_names_something_that_exists():
    assert [f"{d.name}: {p}" for d in DOCS for p in _stale(d.read_text())] == []


@pytest.mark.parametrize("sentence, named", [
    ("Not yet there: Dask sweeps, and placement policies beyond the five above (hot/cold, lifetime, integer "
     "programming, migration).", "dask, hot/cold, integer programming, lifetime, migration"),
    ("Per-tensor placement on real hardware is not yet possible with `--placement`.", "--placement"),
])
def test_the_check_finds_a_stale_not_yet(sentence, named):
    [problem] = _stale(sentence)
    assert problem.endswith(f"names what exists: {named}")
    assert _stale("Bytes allocated and not yet freed, stacked by kind.") == []  # not a feature sentence
