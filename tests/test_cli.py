"""The CLI's top level: `reaper-automix --help` lists every subcommand fast."""

from __future__ import annotations

import subprocess
import sys

from reaper_automix.commands import SUMMARIES


def test_top_level_help_lists_every_command_without_importing_them() -> None:
    code = ("import sys\nfrom reaper_automix.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('reaper_automix.commands.'))\n"
            "print(loaded, 'torch' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    help_text = " ".join(run.stdout.split())
    for name, summary in SUMMARIES.items():
        assert f"{name} {' '.join(summary.split())}" in help_text, name
    assert run.stderr.strip().splitlines()[-1] == "[] False False"


def test_a_subcommand_registers_only_its_own_options() -> None:
    from reaper_automix.cli import build_parser

    args = build_parser(("inspect",)).parse_args(["inspect", "x.RPP", "--json"])
    assert args.command == "inspect" and args.json
