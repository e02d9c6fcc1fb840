"""The vocabulary of the simulated business: automation themes, their SPy programs, and sample values.

Each theme is a small, plausible automation (code, English description, connections, inputs, marked
outputs, ways it fails or needs guidance). Its statements become the program nodes whose events
(node_started, node_executed, ...) fill a run's event stream; variable kinds decide which
commonV1Value shape each input and output has, so every value kind appears somewhere.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import orjson

from kognitos_simulator import values
from kognitos_simulator.values import Json


class Book(NamedTuple):
    """The book function a FunctionCall node calls, and the connection (of the automation) it goes through."""

    connection_alias: str
    book_name: str
    function_name: str


class Connection(NamedTuple):
    """A book connection of an automation: the alias its code uses and the endpoint it is bound to."""

    alias: str
    endpoint: str


class Input(NamedTuple):
    """A run input of an automation; its value kind comes from the theme's `variables`."""

    name: str
    optional: bool


class Failure(NamedTuple):
    """An error a run of the theme can fail with."""

    error_id: str
    description: str


class Person(NamedTuple):
    """A user of the simulated organization; the e-mail is the handle at the organization's domain."""

    display_name: str
    email_handle: str


@dataclass(frozen=True)
class Statement:
    """One line of SPy: a program node. `body` holds the nested lines of a ForLoop or If."""

    code: str
    kind: str
    book: Book | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    body: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class Theme:
    display_name: str
    description: str
    english_code: str
    connections: tuple[Connection, ...]
    inputs: tuple[Input, ...]
    pre: tuple[Statement, ...]
    main: tuple[Statement, ...]
    outputs: tuple[str, ...]
    """Variables passed to set_output, in order."""
    variables: dict[str, str]
    """Each variable's value kind (see SAMPLERS)."""
    failures: tuple[Failure, ...]
    guidance: tuple[str, ...]
    """Descriptions of the exceptions a run can stop on, awaiting guidance."""


_BOOK_CALL = re.compile(r"kognitos\.(\w+)\.(\w+)\(")


def _fc(code: str, reads: tuple[str, ...] = (), writes: tuple[str, ...] = ()) -> Statement:
    """A call of `kognitos.<book>.<function>(...)`, read from the code, through the connection named like the book."""
    match = _BOOK_CALL.search(code)
    if match is None:
        raise ValueError(f"no book function call in {code!r}")
    book, function = match.groups()
    return Statement(code, "FunctionCall", Book(connection_alias=book, book_name=book, function_name=function), reads,
                     writes)


def _assign(code: str, reads: tuple[str, ...], writes: tuple[str, ...]) -> Statement:
    return Statement(code, "Assignment", reads=reads, writes=writes)


def _set_output(name: str) -> Statement:
    return Statement(f'set_output("{name}", {name})', "FunctionCall", reads=(name,))


def _mail_pre(variable: str) -> tuple[Statement, ...]:
    return (_fc(f"{variable} = kognitos.mail.get_attachment(message=trigger_email)", ("trigger_email",), (variable,)),)


_MAIL = Connection("mail", "lambda://microsoft/1.0.4")

THEMES: tuple[Theme, ...] = (
    Theme(
        display_name="Invoice Processing",
        description="Extracts invoice fields and posts them to the ERP.",
        english_code="get the invoice from the email\nextract the total and the line items\n"
                     "post every line item to the ERP\nask for approval if the total is above 10000",
        connections=(_MAIL, Connection("idp", "lambda://kognitos/idp/2.1.0"), Connection("erp", "lambda://sap/3.2.1")),
        inputs=(Input("invoice_file", optional=False), Input("po_number", optional=True)),
        pre=_mail_pre("invoice_file"),
        main=(
            _fc("invoice = kognitos.idp.extract_document(file=invoice_file)", ("invoice_file",), ("invoice",)),
            _assign('invoice_total = invoice["total"]', ("invoice",), ("invoice_total",)),
            Statement('for line in invoice["line_items"]:', "ForLoop", reads=("invoice",), writes=("line",), body=(
                _fc("kognitos.erp.post_invoice_line(po=po_number, line=line)", ("po_number", "line")),
            )),
            Statement("if invoice_total > 10000:", "If", reads=("invoice_total",), writes=(), body=(
                _fc("approved = kognitos.approvals.request(amount=invoice_total)", ("invoice_total",), ("approved",)),
            )),
            _set_output("invoice_total"),
            _set_output("line_items"),
        ),
        outputs=("invoice_total", "line_items"),
        variables={"invoice_file": "file_remote", "po_number": "text_po", "invoice": "dict_invoice",
                   "invoice_total": "money", "line": "dict_line", "approved": "bool", "line_items": "table_line_items",
                   "trigger_email": "text_email"},
        failures=(Failure("err_book_timeout", "Book procedure idp.extract_document timed out."),
                  Failure("err_erp_rejected", "The ERP rejected the invoice line: unknown cost center.")),
        guidance=("Could not find a value for 'invoice_total' in the document.",
                  "The purchase order number on the invoice does not exist."),
    ),
    Theme(
        display_name="Purchase Order Matching",
        description="Matches received goods against purchase orders and reports the variance.",
        english_code="get the purchase order\ncompare every received line with the order\nreport the variance",
        connections=(Connection("erp", "lambda://sap/3.2.1"), Connection("sheets", "lambda://google/sheets/1.4.0")),
        inputs=(Input("po_number", optional=False),),
        pre=(),
        main=(
            _fc("order = kognitos.erp.get_purchase_order(number=po_number)", ("po_number",), ("order",)),
            Statement('for line in order["lines"]:', "ForLoop", reads=("order",), writes=("line",), body=(
                _fc("kognitos.sheets.append_row(sheet=receipts, row=line)", ("line",)),
            )),
            _assign("variance = order.received_total - order.ordered_total", ("order",), ("variance",)),
            _assign("matched = variance == 0", ("variance",), ("matched",)),
            _set_output("matched"),
            _set_output("variance"),
            _set_output("po_lines"),
        ),
        outputs=("matched", "variance", "po_lines"),
        variables={"po_number": "text_po", "order": "dict_invoice", "line": "dict_line", "variance": "signed_money",
                   "matched": "bool", "po_lines": "list_text"},
        failures=(Failure("err_po_missing", "Purchase order lookup returned no result."),),
        guidance=("The received quantity exceeds the ordered quantity.",),
    ),
    Theme(
        display_name="Vendor Onboarding",
        description="Validates new vendor details and creates the vendor record.",
        english_code="read the vendor form\nvalidate the tax id\ncreate the vendor in the ERP",
        connections=(Connection("docs", "lambda://kognitos/docs/1.0.2"), Connection("erp", "lambda://oracle/2.0.0")),
        inputs=(Input("vendor_form", optional=False),),
        pre=(),
        main=(
            _fc("form = kognitos.docs.read_form(file=vendor_form)", ("vendor_form",), ("form",)),
            _assign('tax_id = form["tax_id"]', ("form",), ("tax_id",)),
            _fc("vendor_record = kognitos.erp.create_vendor(form=form)", ("form",), ("vendor_record",)),
            _assign("onboarding_date = today()", (), ("onboarding_date",)),
            _set_output("vendor_record"),
            _set_output("tax_id"),
            _set_output("onboarding_date"),
        ),
        outputs=("vendor_record", "tax_id", "onboarding_date"),
        variables={"vendor_form": "file_inline", "form": "dict_vendor", "tax_id": "text_tax_id",
                   "vendor_record": "dict_vendor", "onboarding_date": "date"},
        failures=(Failure("err_duplicate_vendor", "A vendor with this tax id already exists."),),
        guidance=("The tax id on the form failed validation.",),
    ),
    Theme(
        display_name="Expense Report Audit",
        description="Flags expense items that break the travel policy.",
        english_code="get the expense report\ncheck every item against the policy\nreport the flagged items",
        connections=(Connection("expenses", "lambda://concur/1.3.0"),),
        inputs=(Input("report_id", optional=False),),
        pre=(),
        main=(
            _fc("report = kognitos.expenses.get_report(id=report_id)", ("report_id",), ("report",)),
            Statement('for item in report["items"]:', "ForLoop", reads=("report",), writes=("item",), body=(
                _assign("checked = policy.check(item)", ("item",), ("checked",)),
            )),
            _assign("total_reimbursed = report.approved_total", ("report",), ("total_reimbursed",)),
            _set_output("flagged_items"),
            _set_output("total_reimbursed"),
            _set_output("audit_time"),
        ),
        outputs=("flagged_items", "total_reimbursed", "audit_time"),
        variables={"report_id": "text_po", "report": "dict_invoice", "item": "dict_line", "checked": "bool",
                   "total_reimbursed": "money", "flagged_items": "set_tags", "audit_time": "datetime_offset"},
        failures=(Failure("err_report_locked", "The expense report is locked by another reviewer."),),
        guidance=("A receipt is missing for a meal above the policy limit.",),
    ),
    Theme(
        display_name="Customer Email Triage",
        description="Categorises incoming support emails and drafts a reply.",
        english_code="read the email\ndecide the category and the priority\ndraft a reply",
        connections=(_MAIL, Connection("llm", "lambda://kognitos/llm/3.0.1")),
        inputs=(Input("email_body", optional=False),),
        pre=_mail_pre("email_body"),
        main=(
            _fc("category = kognitos.llm.classify(text=email_body)", ("email_body",), ("category",)),
            _assign("priority = priorities[category]", ("category",), ("priority",)),
            _fc("reply_draft = kognitos.llm.draft_reply(text=email_body)", ("email_body",), ("reply_draft",)),
            _set_output("category"),
            _set_output("priority"),
            _set_output("response_due"),
        ),
        outputs=("category", "priority", "response_due"),
        variables={"email_body": "text_email", "trigger_email": "text_email", "category": "text_category",
                   "priority": "count", "reply_draft": "file_inline", "response_due": "duration"},
        failures=(Failure("err_llm_quota", "The language model quota is exhausted."),),
        guidance=("The email language could not be detected.",),
    ),
    Theme(
        display_name="FX Payment Reconciliation",
        description="Reconciles foreign-currency payments with bank settlements.",
        english_code="get the settlement file\nconvert every payment at the settlement rate\nreconcile the totals",
        connections=(Connection("bank", "lambda://kognitos/bank/1.1.0"), Connection("erp", "lambda://sap/3.2.1")),
        inputs=(Input("settlement_file", optional=False),),
        pre=(),
        main=(
            _fc("settlement = kognitos.bank.read_settlement(file=settlement_file)", ("settlement_file",),
                ("settlement",)),
            _assign('exchange_rate = settlement["rate"]', ("settlement",), ("exchange_rate",)),
            Statement('for payment in settlement["payments"]:', "ForLoop", reads=("settlement",),
                      writes=("payment",), body=(
                _fc("kognitos.erp.reconcile(payment=payment, rate=exchange_rate)", ("payment", "exchange_rate")),
            )),
            _set_output("exchange_rate"),
            _set_output("settled_amount"),
            _set_output("cutoff"),
        ),
        outputs=("exchange_rate", "settled_amount", "cutoff"),
        variables={"settlement_file": "file_remote", "settlement": "dict_invoice", "exchange_rate": "rate",
                   "payment": "dict_line", "settled_amount": "big_money", "cutoff": "timeofday",
                   "settlement_zone": "time_zone"},
        failures=(Failure("err_rate_missing", "The settlement file has no exchange rate for the currency pair."),),
        guidance=("Two payments match the same settlement line.",),
    ),
    Theme(
        display_name="Contract Renewal Review",
        description="Reviews contracts that are due for renewal and lists risky clauses.",
        english_code="find the contracts due for renewal\nextract the clauses\nnote the risks",
        connections=(Connection("docs", "lambda://kognitos/docs/1.0.2"),),
        inputs=(Input("contract_file", optional=False),),
        pre=(),
        main=(
            _fc("contract = kognitos.docs.read_contract(file=contract_file)", ("contract_file",), ("contract",)),
            _assign('renewal_date = contract["renewal_date"]', ("contract",), ("renewal_date",)),
            _fc("clauses = kognitos.docs.extract_clauses(document=contract)", ("contract",), ("clauses",)),
            _set_output("renewal_date"),
            _set_output("clauses"),
            _set_output("risk_notes"),
        ),
        outputs=("renewal_date", "clauses", "risk_notes"),
        variables={"contract_file": "file_remote", "contract": "dict_vendor", "renewal_date": "date",
                   "clauses": "table_clauses", "risk_notes": "null"},
        failures=(Failure("err_unreadable_pdf", "The contract PDF could not be read."),),
        guidance=("The renewal date is ambiguous.",),
    ),
    Theme(
        display_name="Employee Onboarding",
        description="Creates accounts and schedules the first day for new hires.",
        english_code="get the new hire\ncreate every account\nschedule the first day",
        connections=(Connection("hr", "lambda://workday/4.2.0"), Connection("directory", "lambda://okta/2.8.1")),
        inputs=(Input("employee_id", optional=False), Input("start_zone", optional=True)),
        pre=(),
        main=(
            _fc("hire = kognitos.hr.get_worker(id=employee_id)", ("employee_id",), ("hire",)),
            Statement('for system in hire["systems"]:', "ForLoop", reads=("hire",), writes=("system",), body=(
                _fc("kognitos.directory.create_account(worker=hire, system=system)", ("system",)),
            )),
            _assign("start_datetime = hire.first_day_at(start_zone)", ("hire", "start_zone"), ("start_datetime",)),
            _set_output("accounts"),
            _set_output("start_datetime"),
            _set_output("badge_photo"),
        ),
        outputs=("accounts", "start_datetime", "badge_photo"),
        variables={"employee_id": "text_po", "start_zone": "time_zone", "hire": "dict_vendor",
                   "system": "text_category",
         "accounts": "list_text", "start_datetime": "datetime_zone", "badge_photo": "file_remote"},
        failures=(Failure("err_directory_conflict", "An account with this e-mail address already exists."),),
        guidance=("The hire has no manager assigned.",),
    ),
)

_VENDORS = ("Globex LLC", "Initech GmbH", "Umbrella Corp", "Soylent SA", "Hooli Inc", "Stark Industries",
            "Wayne Enterprises", "Tyrell Ltd", "Acme Supplies", "Cyberdyne BV", "Müller & Söhne KG", "北京贸易有限公司")
_CATEGORIES = ("billing", "shipping", "returns", "technical", "sales", "account access")
_TAGS = ("urgent", "eu", "travel", "meals", "hotel", "over-limit", "duplicate", "weekend")
_ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "UTC", "America/Sao_Paulo")
_SKUS = ("SKU-1001", "SKU-2040", "SKU-3310", "SKU-4420", "SKU-5005", "SKU-7777")
_CLAUSES = ("auto-renewal", "liability cap", "termination for convenience", "exclusivity", "price escalation")


def _money(rng: random.Random, low: int = 100, high: int = 5_000_000) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


_TABLE_VARIANTS = 24


@functools.cache
def _line_items_variant(variant: int) -> Json:
    rng = random.Random(variant)
    rows = tuple(
        (rng.choice(_SKUS), rng.randint(1, 40), round(rng.randint(100, 99_999) / 100, 2))
        for _ in range(rng.randint(1, 4))
    )
    return values.inline_table(values.arrow_table(("sku", "quantity", "unit_price"), rows))


@functools.cache
def _clauses_variant(variant: int) -> Json:
    rng = random.Random(variant)
    rows = tuple((clause, rng.choice(("low", "medium", "high"))) for clause in rng.sample(_CLAUSES, 2))
    return values.inline_table(values.arrow_table(("clause", "risk"), rows))


# Encoding Arrow IPC costs far more than the rest of a run, so tables come from a few cached variants.
def _line_items_table(rng: random.Random) -> Json:
    return _line_items_variant(rng.randrange(_TABLE_VARIANTS))


def _clauses_table(rng: random.Random) -> Json:
    return _clauses_variant(rng.randrange(_TABLE_VARIANTS))


def _dictionary(rng: random.Random, fields: dict[str, Json]) -> Json:
    return values.dictionary((values.text(key), value) for key, value in fields.items())


SAMPLERS: dict[str, Callable[[random.Random], Json]] = {
    "money": lambda rng: values.number(_money(rng)),
    "signed_money": lambda rng: values.number(_money(rng, -50_000, 50_000)),
    "big_money": lambda rng: values.number(Decimal(rng.randint(10**20, 10**23)).scaleb(-2)),
    # 28 decimals: the largest scale v1Number allows, needing all of lo, mid and hi.
    "rate": lambda rng: values.number(Decimal(rng.randint(5 * 10**27, 9 * 10**27)).scaleb(-28)),
    "count": lambda rng: values.number(rng.randint(0, 5)),
    "bool": lambda rng: values.boolean(rng.random() < 0.7),
    "text_po": lambda rng: values.text(f"PO-{rng.randint(1000, 99999)}"),
    "text_tax_id": lambda rng: values.text(f"DE{rng.randint(100_000_000, 999_999_999)}"),
    "text_category": lambda rng: values.text(rng.choice(_CATEGORIES)),
    "text_email": lambda rng: values.text(
        f"Hello, please find attached invoice {rng.randint(1000, 9999)} from {rng.choice(_VENDORS)}."
    ),
    "date": lambda rng: values.date(2025, rng.randint(1, 12), rng.randint(1, 28)),
    "datetime_offset": lambda rng: values.date_time(
        2025, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
        utc_offset_seconds=rng.choice((-18000, 0, 3600, 19800)),
    ),
    "datetime_zone": lambda rng: values.date_time(
        2025, rng.randint(1, 12), rng.randint(1, 28), 9, 0, zone_id=rng.choice(_ZONES)
    ),
    "timeofday": lambda rng: values.time_of_day(rng.randint(0, 23), rng.choice((0, 30)), 0,
                                                rng.choice((0, 500_000_000))),
    "time_zone": lambda rng: values.time_zone(rng.choice(_ZONES), "2025b"),
    "duration": lambda rng: values.duration(rng.choice((3600, 14_400, 86_400, 1_800)) * 1_000_000_000),
    "file_remote": lambda rng: values.remote_file(f"organizations/files/f_{rng.getrandbits(40):010x}"),
    "file_inline": lambda rng: values.inline_file(f"draft-{rng.randint(1, 999)}.txt",
                                                  b"Dear customer,\nthank you for your message.\n"),
    "table_line_items": _line_items_table,
    "table_clauses": _clauses_table,
    "list_text": lambda rng: values.list_of(values.text(rng.choice(_SKUS)) for _ in range(rng.randint(0, 3))),
    "set_tags": lambda rng: values.set_of(values.text(tag) for tag in rng.sample(_TAGS, rng.randint(0, 3))),
    "null": lambda rng: values.null(),
    "dict_invoice": lambda rng: _dictionary(rng, {
        "vendor": values.text(rng.choice(_VENDORS)), "total": values.number(_money(rng)),
        "due": values.date(2025, rng.randint(1, 12), rng.randint(1, 28)),
    }),
    "dict_vendor": lambda rng: _dictionary(rng, {
        "name": values.text(rng.choice(_VENDORS)), "active": values.boolean(True),
    }),
    "dict_line": lambda rng: _dictionary(rng, {
        "sku": values.text(rng.choice(_SKUS)), "quantity": values.number(rng.randint(1, 40)),
    }),
}

_POOL_SIZE = 64


@functools.cache
def _pool(kind: str) -> tuple[orjson.Fragment, ...]:
    rng = random.Random(kind)
    return tuple(orjson.Fragment(orjson.dumps(SAMPLERS[kind](rng))) for _ in range(_POOL_SIZE))


def pooled(kind: str, rng: random.Random) -> orjson.Fragment:
    """A pre-encoded value of `kind` from a pool of 64, for run and node inputs and outputs.

    Sampling exact decimals and encoding them for each of 100,000 runs (and each node of a
    1,500-event run) would dominate the cost of serving them.
    """
    return _pool(kind)[rng.randrange(_POOL_SIZE)]


TYPES: dict[str, Json] = {
    "money": values.scalar_type("NUMBER"),
    "signed_money": values.scalar_type("NUMBER"),
    "big_money": values.scalar_type("NUMBER"),
    "rate": values.scalar_type("NUMBER"),
    "count": values.scalar_type("NUMBER"),
    "bool": values.scalar_type("BOOLEAN"),
    "text_po": values.scalar_type("TEXT"),
    "text_tax_id": values.scalar_type("TEXT"),
    "text_category": values.scalar_type("TEXT"),
    "text_email": values.scalar_type("TEXT"),
    "date": values.scalar_type("DATE"),
    "datetime_offset": values.scalar_type("DATETIME"),
    "datetime_zone": values.scalar_type("DATETIME"),
    "timeofday": values.scalar_type("TIME"),
    "time_zone": values.any_type(),
    "duration": values.any_type(),
    "file_remote": values.scalar_type("FILE"),
    "file_inline": values.scalar_type("FILE"),
    "table_line_items": values.table_type("line items", [
        ("sku", values.scalar_type("TEXT")), ("quantity", values.scalar_type("NUMBER")),
        ("unit_price", values.scalar_type("NUMBER")),
    ]),
    "table_clauses": values.table_type("clauses", [
        ("clause", values.scalar_type("TEXT")), ("risk", values.scalar_type("TEXT")),
    ]),
    "list_text": values.list_type(values.scalar_type("TEXT")),
    "set_tags": values.any_type(),
    "null": values.optional_type(values.scalar_type("TEXT")),
    "dict_invoice": values.dictionary_type("invoice", [
        ("vendor", values.scalar_type("TEXT")), ("total", values.scalar_type("NUMBER")),
        ("due", values.scalar_type("DATE")),
    ]),
    "dict_vendor": values.dictionary_type("vendor", [
        ("name", values.scalar_type("TEXT")), ("active", values.scalar_type("BOOLEAN")),
    ]),
    "dict_line": values.dictionary_type("line", [
        ("sku", values.scalar_type("TEXT")), ("quantity", values.scalar_type("NUMBER")),
    ]),
}

PAUSE_REASONS = ("Vendor data needs review", "Paused for the month-end close", "Waiting for finance sign-off",
                 "Paused by operator: duplicate trigger suspected")
PROGRAM_STOP_REASONS = ("raised an exception that needs guidance", "requested human review")
ICONS = ("briefcase", "rocket", "chart", "globe", "shield", "users")
COLORS = ("#3B82F6", "#10B981", "#F59E0B", "#EF4444", "#8B5CF6", "#0EA5E9")
WORKSPACE_TITLES = ("Finance", "Operations", "HR", "Procurement", "Customer Support", "Legal", "IT", "Sales")
PEOPLE = (Person("Jane Smith", "jane"), Person("Ravi Kumar", "ravi"), Person("Ana Souza", "ana"),
          Person("Lukas Weber", "lukas"), Person("Mei Chen", "mei"), Person("Tom O'Brien", "tom"))


@dataclass(frozen=True)
class Node:
    """A program node with its byte span in the code (kognitos-api.md §5.2 code_location)."""

    node_id: str
    kind: str
    location: Json  # commonV1Location
    statement: Statement
    body: tuple[Node, ...]


@dataclass(frozen=True)
class Program:
    """The SPy code of one automation phase and its nodes, top level first."""

    phase_id: str  # "pre" | "main"
    phase_type: str  # v1AutomationPhaseType
    code: str
    code_hash: str
    nodes: tuple[Node, ...]

    @property
    def book_nodes(self) -> tuple[int, ...]:
        """Indices of top-level nodes that call a book (where runs wait, fail or need guidance)."""
        return tuple(index for index, node in enumerate(self.nodes) if node.statement.book is not None)


def location(start: int, end: int) -> Json:
    return {"start_byte": str(start), "end_byte": str(end)} if start else {"end_byte": str(end)}


def build_program(phase_id: str, statements: tuple[Statement, ...]) -> Program:
    """Lay the statements out as code and give every node its byte span and id."""
    lines: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0

    def lay_out(block: tuple[Statement, ...], depth: int) -> None:
        nonlocal offset
        for statement in block:
            indent = "    " * depth
            line = indent + statement.code
            start = offset + len(indent.encode())
            spans.append((start, offset + len(line.encode())))
            lines.append(line)
            offset += len(line.encode()) + 1
            lay_out(statement.body, depth + 1)

    lay_out(statements, 0)
    code = "\n".join(lines)
    counter = iter(range(len(spans)))

    def nodes_of(block: tuple[Statement, ...]) -> tuple[Node, ...]:
        built = []
        for statement in block:
            index = next(counter)
            start, end = spans[index]
            built.append(Node(f"{phase_id}_n{index + 1}", statement.kind, location(start, end), statement,
                              nodes_of(statement.body)))
        return tuple(built)

    phase_type = "AUTOMATION_PHASE_TYPE_PRE" if phase_id == "pre" else "AUTOMATION_PHASE_TYPE_MAIN"
    return Program(phase_id, phase_type, code, hashlib.md5(code.encode()).hexdigest(), nodes_of(statements))
