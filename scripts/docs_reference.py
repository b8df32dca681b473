"""The documentation's reference pages, generated from the code so that they cannot drift from it.

The Processing pages come from the algorithms themselves (their help, parameters, types, defaults and
outputs, as QGIS reads them), one page per algorithm, which its ``helpUrl`` opens; the command-line page
comes from the ``calliper`` argparse parser. Run by the MkDocs hook (``scripts/docs_hooks.py``) in a
process of its own, since the algorithms need a QGIS application:

    python scripts/docs_reference.py     # prints {"pages": {path: markdown}, "processing_nav": [...]} as JSON
"""

from __future__ import annotations

import argparse
import json
import re
import sys

CLI_PAGE = "reference/cli.md"


def escape(text: str) -> str:
    """Text shown as written: Markdown's emphasis, HTML and table characters escaped."""
    text = re.sub(r"([\\`*_\[\]|])", r"\\\1", str(text))
    return text.replace("<", "&lt;").replace(">", "&gt;")


def cell(text: str) -> str:
    """A table cell: one line."""
    return escape(text).replace("\n", " ")


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.:])\s", text.strip(), maxsplit=1)[0]


# ---------------------------------------------------------------- Processing


def parameter_default(parameter) -> str:
    value = parameter.defaultValue()
    if value is None or value == "":
        return ""
    if parameter.type() == "enum":
        options = parameter.options()
        indices = value if isinstance(value, list) else [value]
        return ", ".join(options[int(i)] for i in indices if str(i).lstrip("-").isdigit() and 0 <= int(i) < len(options))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parameter_row(parameter, registry) -> str:
    from qgis.core import QgsProcessingParameterDefinition

    flags = parameter.flags()
    kind = registry.parameterType(parameter.type())
    notes = []
    if flags & QgsProcessingParameterDefinition.Flag.FlagOptional:
        notes.append("optional")
    if flags & QgsProcessingParameterDefinition.Flag.FlagAdvanced:
        notes.append("advanced")
    if parameter.type() == "enum":
        notes.append("one of: " + ", ".join(f"{i}: {option}" for i, option in enumerate(parameter.options())))
    about = parameter.help() if hasattr(parameter, "help") else ""
    description = cell(parameter.description())
    if about:
        description += f"<br>{cell(about)}"
    if notes:
        description += f"<br>*{cell('; '.join(notes))}*"
    return (f"| `{parameter.name()}` | {description} | {cell(kind.name() if kind else parameter.type())} "
            f"| {cell(parameter_default(parameter))} |")


def algorithm_page(algorithm, registry) -> str:
    lines = [
        f"# {escape(algorithm.displayName())}",
        "",
        f"Processing toolbox: *Calliper > {escape(algorithm.group())} > {escape(algorithm.displayName())}*; "
        f"algorithm id `calliper:{algorithm.name()}`.",
        "",
        *[escape(paragraph) + "\n" for paragraph in algorithm.shortHelpString().split("\n\n")],
        "## Parameters",
        "",
        "| Name | What it is | Type | Default |",
        "|---|---|---|---|",
        *[parameter_row(parameter, registry) for parameter in algorithm.parameterDefinitions()
          if not parameter.isDestination()],
        "",
        "## Outputs",
        "",
        "| Name | What it is | Type |",
        "|---|---|---|",
        *[f"| `{output.name()}` | {cell(output.description())} | {cell(output.type())} |"
          for output in algorithm.outputDefinitions()],
        "",
        "## From a script",
        "",
        "In the QGIS Python console, or in a model: ",
        "",
        "```python",
        "import processing",
        f'processing.run("calliper:{algorithm.name()}", {{...}})  # the parameters above, by name',
        "```",
        "",
        f"From a terminal: `qgis_process help calliper:{algorithm.name()}`, then "
        f"`qgis_process run calliper:{algorithm.name()} -- NAME=value ...`.",
        "",
    ]
    return "\n".join(lines)


def processing_reference() -> tuple[dict[str, str], list]:
    """Each algorithm's page, the index page, and their place in the site's navigation (by toolbox group)."""
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from calliper.adapters.help_pages import PROCESSING_FOLDER
    from calliper.processing_provider.algorithms import ALGORITHMS
    from calliper.processing_provider.base import GROUPS

    registry = QgsApplication.processingRegistry()
    pages, groups = {}, {title: [] for title in GROUPS.values()}
    index = [
        "# Processing algorithms",
        "",
        "Every Calliper capability is a Processing algorithm, in the toolbox under *Calliper*: usable in the "
        "graphical modeller, in batch mode, from the Python console (`processing.run`) and from `qgis_process`. "
        "Each algorithm's *Help* button opens its page here. Extents and points may be in any CRS; layers that "
        "are not plain files (memory layers, databases, filtered layers) are copied to a temporary GeoPackage "
        "first.",
        "",
    ]
    for algorithm_class in ALGORITHMS:
        algorithm = algorithm_class()
        algorithm.initAlgorithm()
        path = f"{PROCESSING_FOLDER}/{algorithm.name()}.md"
        pages[path] = algorithm_page(algorithm, registry)
        groups[algorithm.group()].append((algorithm.displayName(), path, first_sentence(algorithm.shortHelpString())))
    for group, entries in groups.items():
        index += [f"## {group}", "", "| Algorithm | What it does |", "|---|---|"]
        index += [f"| [{escape(title)}]({path.rsplit('/', 1)[1]}) | {cell(summary)} |" for title, path, summary in entries]
        index.append("")
    pages[f"{PROCESSING_FOLDER}/index.md"] = "\n".join(index)
    nav = [f"{PROCESSING_FOLDER}/index.md"]
    nav += [{group: [{title: path} for title, path, _ in entries]} for group, entries in groups.items() if entries]
    app.exitQgis()
    return pages, nav


# ---------------------------------------------------------------- command line


def option_row(action: argparse.Action, formatter: argparse.HelpFormatter) -> str:
    names = ", ".join(action.option_strings) or action.dest
    if action.option_strings and action.nargs != 0:
        names += f" {action.metavar or action.dest.upper()}"
    about = formatter._expand_help(action) if action.help else ""
    notes = []
    if action.required:
        notes.append("required")
    if action.choices:
        notes.append("one of: " + ", ".join(map(str, action.choices)))
    default = action.default
    if action.option_strings and action.nargs != 0 and default not in (None, argparse.SUPPRESS) and "default" not in about:
        notes.append(f"default {default}")
    text = cell(about) + (f"<br>*{cell('; '.join(notes))}*" if notes else "")
    return f"| `{names}` | {text} |"


def command_section(name: str, summary: str, parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction) and a.dest != "run"]
    usage = parser.format_usage().removeprefix("usage: ").strip()
    return [
        f"## calliper {name} {{#{name}}}",
        "",
        escape(summary[:1].upper() + summary[1:]) + ".",
        "",
        "```text",
        usage,
        "```",
        "",
        "| Option | What it does |",
        "|---|---|",
        *[option_row(action, formatter) for action in actions],
        "",
    ]


def cli_reference() -> str:
    from calliper.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {choice.dest: choice.help or "" for choice in commands._choices_actions}
    lines = [
        "# Command line",
        "",
        "The `calliper` command runs everything the plugin does, from a terminal, a script or a server, with "
        "the same code. In a source checkout, `bash scripts/setup.sh` installs it as `.venv/bin/calliper` "
        "(`python -m calliper.cli` does the same). Bad input prints one line naming "
        "the problem and exits with code 2; `calliper COMMAND --help` prints what follows.",
        "",
        "| Command | What it does |",
        "|---|---|",
        *[f"| [`{name}`](#{name}) | {cell(summaries[name])} |" for name in commands.choices],
        "",
    ]
    for name, sub in commands.choices.items():
        lines += command_section(name, summaries[name], sub)
    return "\n".join(lines)


def main() -> None:
    pages, processing_nav = processing_reference()
    pages[CLI_PAGE] = cli_reference()
    json.dump({"pages": pages, "processing_nav": processing_nav}, sys.stdout)


if __name__ == "__main__":
    main()
