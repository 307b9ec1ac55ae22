"""``qa export open311`` and ``qa check tickets``: a city's service requests from the calls, and the agents' tickets
checked against them."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import QAError

export_app = typer.Typer(help="Export processed calls to other systems.")
check_app = typer.Typer(help="Check other systems' records against the processed calls.")
TAXONOMY_HELP = "Request-type taxonomy YAML with Open311 service codes. [default: the shipped taxonomy]"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@export_app.command("open311")
def export_open311_cmd(
    results: Annotated[Path, typer.Argument(help="A results folder written by 'qa process'.")] = Path("results"),
    out: Annotated[Path, typer.Option("--out", "-o", help="requests.json to write ('-' = standard output).")] = Path(
        "requests.json"
    ),
    taxonomy: Annotated[Path | None, typer.Option(help=TAXONOMY_HELP)] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Pipeline config (city.jurisdiction_id).")
    ] = None,
    every_call: Annotated[
        bool, typer.Option("--all", help="Also calls whose type leaves no ticket (information, status, emergencies).")
    ] = False,
) -> None:
    """One Open311 GeoReport v2 service request per call that needs one: service_code from the taxonomy, the
    caller's redacted words, the matched address, the call's start time, the call id as an attribute."""
    from qa.config import load_config
    from qa.exports.open311 import export_open311
    from qa.nlp.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

    if not results.is_dir():
        _fail(f"{results}: not a folder")
    try:
        tax = load_taxonomy(taxonomy or DEFAULT_TAXONOMY)
        cfg = load_config(config)
        requests, notes = export_open311(results, tax, cfg.city.jurisdiction_id, every_call)
    except QAError as exc:
        _fail(str(exc))
    text = json.dumps(requests, indent=1, ensure_ascii=False) + "\n"
    if str(out) == "-":
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    for n in notes:
        typer.echo(f"note: {n}", err=True)
    typer.echo(f"{len(requests)} service request(s) -> {out}", err=str(out) == "-")


@check_app.command("tickets")
def check_tickets_cmd(
    tickets: Annotated[Path, typer.Argument(help="CSV: service_request_id,type,address[,agent,time,call_id].")],
    results: Annotated[Path, typer.Argument(help="A results folder written by 'qa process'.")] = Path("results"),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the flags as CSV here.")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help=TAXONOMY_HELP)] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline config (city.streets).")] = None,
) -> None:
    """Flag calls whose ticket disagrees with the call: another request type, another street, or no ticket for a
    call that needed one. Exit status 1 when anything was flagged."""
    from qa.city.gazetteer import load_gazetteer
    from qa.city.tickets import check_tickets, load_tickets
    from qa.config import load_config
    from qa.exports.open311 import call_documents
    from qa.nlp.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

    if not results.is_dir():
        _fail(f"{results}: not a folder")
    try:
        tax = load_taxonomy(taxonomy or DEFAULT_TAXONOMY)
        city = load_config(config).city
        gaz = load_gazetteer(city.streets, city.places) if city.streets else None
        rows = load_tickets(tickets)
        docs = list(call_documents(results))
        flags = check_tickets(rows, docs, tax, gaz)
    except QAError as exc:
        _fail(str(exc))
    for f in flags:
        typer.echo(f"{f.kind:16s} call {f.call_id or '-'} ticket {f.ticket or '-'}: {f.detail}")
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["call_id", "source", "ticket", "kind", "detail"])
            w.writerows([f.call_id, f.source, f.ticket, f.kind, f.detail] for f in flags)
    typer.echo(f"{len(docs)} call(s), {len(rows)} ticket(s), {len(flags)} flag(s)")
    raise typer.Exit(1 if flags else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(check_app, name="check")
