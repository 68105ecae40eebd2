"""``reaper-automix install``: put the AutoMix actions into REAPER (or take them out again)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from ..reaper.install import (
    REAPY_DISTRIBUTION,
    REAPY_VERSION,
    InstallError,
    InstallReport,
    PythonInfo,
    default_resource_path,
    install,
    probe_python,
    uninstall,
)
from . import SUMMARIES

CHECK_COMMAND = ("python3 -c \"import sysconfig; print(sysconfig.get_config_var('LDLIBRARY'), "
                 "sysconfig.get_config_var('LIBDIR'))\"")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install",
        help=SUMMARIES["install"],
        description="Copy the AutoMix action scripts, the light modules they import and "
        f"{REAPY_DISTRIBUTION} {REAPY_VERSION} (taken from the --python environment) into "
        "REAPER's resource folder (Scripts/reaper-automix), register the actions in "
        "reaper-kb.ini, record which Python runs the worker (reaper-automix.json), say which "
        "Python library to point REAPER at and whether the IEM plug-ins are installed. "
        "--uninstall removes exactly what was added. Run it while REAPER is closed.",
    )
    parser.add_argument("--resource-path", type=Path,
                        help="REAPER's resource folder (default: "
                        f"{_default_or_hint()}; REAPER shows it in Options > Show REAPER "
                        "resource path)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs the worker; it must have this version of "
                        f"reaper-automix and {REAPY_DISTRIBUTION}=={REAPY_VERSION} installed "
                        "(default: this one, %(default)s)")
    parser.add_argument("--uninstall", action="store_true",
                        help="remove what a previous install added")
    parser.add_argument("--worker-only", action="store_true",
                        help="only record the worker Python (when the actions come from ReaPack)")
    parser.add_argument("--reapack-index", type=Path, metavar="DIR",
                        help="instead of installing, write a ReaPack repository (index.xml and "
                        f"the files, {REAPY_DISTRIBUTION} from --python included) into DIR")
    parser.add_argument("--reapack-url", metavar="URL",
                        help="public URL of the --reapack-index DIR (default: its file:// URL)")
    parser.set_defaults(run=run)


def _default_or_hint() -> str:
    try:
        return str(default_resource_path())
    except InstallError:
        return "the platform's REAPER folder"


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        if args.reapack_index is not None:
            from ..reaper.reapack import write_repository

            index = write_repository(args.reapack_index, args.reapack_url,
                                     python=probe_python(args.python))
            console.print(f"wrote ReaPack repository {index} (import it in REAPER: Extensions > "
                          "ReaPack > Import repositories…)")
            return 0
        resource = args.resource_path or default_resource_path()
        if args.uninstall:
            notes = uninstall(resource)
            console.print(f"removed the AutoMix actions and settings from {resource}")
            for note in notes:
                console.print(f"[yellow]note:[/yellow] {note}")
            return 0
        report = install(resource, args.python, actions=not args.worker_only)
    except InstallError as exc:
        console.print(f"[bold red]error:[/bold red] {exc}")
        return 2
    _print_report(Console(), report)
    return 0


def _print_report(console: Console, report: InstallReport) -> None:
    if report.actions:
        console.print(f"[bold]Installed[/bold] into {report.scripts_dir}:")
        for action in report.actions:
            console.print(f"  {action.title}   (command id _{action.command_id})")
        backup = f" (previous file kept as {report.kb_backup.name})" if report.kb_backup else ""
        console.print(f"Registered in {report.kb_path}{backup}. Restart REAPER to see them in "
                      "the action list; if they are missing, load them once with Actions > New "
                      "action > Load ReaScript.")
    console.print(f"[bold]Worker Python:[/bold] {report.python.executable} (Python "
                  f"{report.python.version}, reaper-automix {report.python.automix_version})")
    if report.actions:
        console.print(f"{REAPY_DISTRIBUTION} {report.python.reapy_version} copied from "
                      f"{report.python.reapy_dir} (REAPER's Python needs nothing installed)")
    console.print(_python_hint(report.python))
    console.print(_iem_summary(report.iem_plugins))


def _python_hint(info: PythonInfo) -> str:
    library = (f"{info.libdir}/{info.ldlibrary}" if info.shared_library else
               f"none found ({info.ldlibrary} is not in {info.libdir}; a pyenv Python needs "
               "PYTHON_CONFIGURE_OPTS=--enable-shared)")
    return (
        "[bold]REAPER's own Python:[/bold] the actions run in the Python that REAPER loads as a "
        "shared library (any Python 3.10 or newer; it needs nothing installed). In REAPER: "
        "Options > Preferences > Plug-ins > ReaScript, tick \"Enable Python for use with "
        "ReaScript\", set \"Custom path to Python dll directory\" to the LIBDIR and \"Force "
        "ReaScript to use specific Python .dll\" to the LDLIBRARY of that Python, then restart "
        f"REAPER. Find both with:\n  {CHECK_COMMAND}\nFor the worker Python: LDLIBRARY "
        f"{info.ldlibrary}, LIBDIR {info.libdir}; shared library: {library}."
    )


def _iem_summary(found: dict[str, list[Path]]) -> str:
    missing = [name for name, paths in found.items() if not paths]
    present = [f"{name} ({paths[0]})" for name, paths in found.items() if paths]
    lines = ["[bold]IEM plug-ins:[/bold] " + ("; ".join(present) if present else "none found")]
    if missing:
        lines.append(f"  not found: {', '.join(missing)}. Auto balance group does not need "
                     "them; the EQ, compressor and reverb decisions do. Get the IEM Plug-in "
                     "Suite from https://plugins.iem.at (Debian/Ubuntu: apt install "
                     "iem-plugin-suite-vst), then let REAPER rescan its VST folders.")
    return "\n".join(lines)
