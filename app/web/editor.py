"""The scenario editor: ``/edit``, a YAML text checked on the server as it is typed, run on the stage, shared.

The page is one form around a text area. Typing posts the text (debounced) to ``/edit/check``, which answers with
the list of problems, each at its line and column, and the line-number gutter with those lines marked. "Run" posts
the text to ``/edit/run``, which answers with a redirect to the stage (the scenario travels in the link), or with
the editor and its problems. Download and upload keep the text in files; several designs in one text (YAML
documents separated by ``---``) open side by side in the fix verifier.

``POST /api/scenarios/validate`` is the same check for programs: ``{"yaml": text}`` in, ``{valid, errors}`` out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import yaml
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.authoring import MAX_DOCUMENTS, MAX_YAML_CHARS, Checked, Problem, check_documents, scenario_yaml
from app.scenarios import SCENARIO_DIR, ScenarioError, parse_scenario
from app.sim.scenario import SCENARIO_ID
from app.web import render
from app.web.errors import API_ERRORS, PAGE_ERRORS
from app.web.links import MAX_DEF_CHARS, LinkError, decode_definition, encode_definition, play_link

router = APIRouter()

BLANK = (Path(__file__).resolve().parent / "blank-scenario.yaml").read_text(encoding="utf-8")


# -- the API -----------------------------------------------------------------------------------------------------------


class ValidateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"yaml": BLANK}, {"yaml": "id: mine\ntitle: [unclosed\n"}]},
    )

    yaml: str = Field(
        max_length=MAX_YAML_CHARS,
        description="A scenario written as YAML (the format of scenarios/*.yaml; 'expect', 'demo' and 'bugs' "
        "are optional). Several documents separated by '---' are several designs, each checked.",
    )


class ProblemOut(BaseModel):
    line: int = Field(description="1-based line of the text where the problem is.")
    column: int = Field(description="1-based column.")
    field: str = Field(description="The field's dotted path ('threads.1.program.3.irp'); empty for the text.")
    message: str = Field(description="What is wrong and how to fix it.")


class ValidateResponse(BaseModel):
    valid: bool
    errors: list[ProblemOut]
    scenarios: list[str] = Field(description="The id of each scenario in the text, once all are valid.")
    link: str | None = Field(
        description="The stage link of the scenario, when the text is one valid scenario that fits in a link."
    )


@router.post("/api/scenarios/validate", response_model=ValidateResponse, responses=API_ERRORS, tags=["api"])
def validate(body: ValidateRequest) -> ValidateResponse:
    """Check a scenario written as YAML: every problem, YAML syntax included, with its line and column. Invalid
    text is an answer (``valid: false``), not an error."""
    documents, problems = check_documents(body.yaml)
    valid = not problems and bool(documents)
    link = None
    if valid and len(documents) == 1:
        link = _link(documents[0])
    return ValidateResponse(
        valid=valid,
        errors=[ProblemOut(line=p.line, column=p.column, field=p.field, message=p.message) for p in problems],
        scenarios=[d.compiled.source.id for d in documents if d.compiled] if valid else [],
        link=link,
    )


def _link(checked: Checked) -> str | None:
    assert checked.compiled is not None
    try:
        return play_link(checked.compiled.source.id, (), definition=definition_of(checked))
    except LinkError:
        return None


def definition_of(checked: Checked) -> str:
    """The link definition of a valid scenario (raises LinkError when it is too large for a link)."""
    assert checked.compiled is not None
    return encode_definition(checked.compiled.source.model_dump(mode="json"))


# -- the page ----------------------------------------------------------------------------------------------------------

DefQuery = Annotated[
    str | None,
    Query(
        alias="def",
        max_length=MAX_DEF_CHARS,
        pattern="^[A-Za-z0-9_-]*$",
        description="Start from a custom scenario: its link definition (as in /play/custom?def=...).",
    ),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=64,
        pattern=SCENARIO_ID.pattern,
        description="Start from a copy of this built-in scenario ('blank' or absent: the blank template).",
    ),
]


def built_in_text(request: Request, scenario_id: str) -> str:
    """A built-in scenario's text: its own file, comments and all, when that is the version being served; else
    the scenario written out."""
    compiled = request.app.state.library.get(scenario_id)
    if compiled is None:
        raise HTTPException(
            404, f"There is no built-in scenario '{scenario_id}' to copy. The gallery lists them all."
        )
    path = SCENARIO_DIR / f"{scenario_id}.yaml"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        documents, problems = check_documents(text)
        if (
            not problems
            and documents[0].compiled
            and documents[0].compiled.fingerprint == compiled.fingerprint
        ):
            return text
    return scenario_yaml(compiled.source)


@router.get("/edit", response_class=HTMLResponse, responses=PAGE_ERRORS)
def edit(request: Request, start: FromQuery = None, definition: DefQuery = None) -> Response:
    """The editor, with the blank template, a copy of a built-in scenario (``from``) or of a custom one (``def``)."""
    if definition:
        try:
            text = scenario_yaml(parse_scenario(decode_definition(definition)).source)
        except (LinkError, ScenarioError) as err:
            raise HTTPException(
                422, f"{err} Open the editor without 'def' to start from the template."
            ) from None
    elif start and start != "blank":
        text = built_in_text(request, start)
    else:
        text = BLANK
    return _page(request, text, 200)


def _page(request: Request, text: str, status: int, problems: list[Problem] | None = None) -> Response:
    checked = problems is None
    if problems is None:
        problems = check_documents(text)[1]
    library = request.app.state.library.scenarios.values()
    view = {
        "text": text,
        "check": _check_view(text, problems, checked=checked),
        "built_ins": [{"id": c.source.id, "title": c.source.title} for c in library],
        "max_chars": MAX_YAML_CHARS,
        "max_documents": MAX_DOCUMENTS,
    }
    response = render.page(request, "pages/edit.html", view)
    response.status_code = status
    return response


def _check_view(text: str, problems: list[Problem], checked: bool = True) -> dict[str, Any]:
    lines = max(1, text.count("\n") + 1)
    marked = {p.line for p in problems}
    return {
        "problems": problems,
        "gutter": [{"n": n, "error": n in marked} for n in range(1, lines + 1)],
        "checked": checked,
    }


async def form_fields(request: Request, max_chars: int) -> dict[str, str]:
    """The fields of a form post (urlencoded, as browsers and htmx send them), each at most ``max_chars`` long;
    the body is already bounded by the Guard middleware. FastAPI's Form() would need python-multipart for this."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "Send the page's form (application/x-www-form-urlencoded).")
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "The form is not valid UTF-8 form data; send the page's form.") from None
    out = {name: values[0].replace("\r\n", "\n") for name, values in fields.items()}
    for name, value in out.items():
        if len(value) > max_chars:
            raise HTTPException(
                413, f"The field '{name[:20]}' is {len(value):,} characters long; the limit is {max_chars:,}."
            )
    return out


async def form_text(request: Request) -> str:
    """The editor's text: the ``yaml`` field of its form."""
    return (await form_fields(request, MAX_YAML_CHARS)).get("yaml", "")


@router.post("/edit/check", response_class=HTMLResponse, include_in_schema=False)
async def check(request: Request) -> Response:
    """What the editor shows as the text changes: the problems, and the gutter with their lines marked."""
    text = await form_text(request)
    _, problems = check_documents(text)
    return render.page(request, "partials/editor-check.html", {"check": _check_view(text, problems)})


@router.post("/edit/run", include_in_schema=False)
async def run(request: Request) -> Response:
    """Run: the stage of the scenario (a redirect to its link), or the editor with what stops it from running."""
    text = await form_text(request)
    documents, problems = check_documents(text)
    if problems:
        return _page(request, text, 422, problems)
    if len(documents) != 1:
        stop = Problem(
            1,
            1,
            "",
            f"Run opens one scenario, and this text has {len(documents)}: use Compare designs, or keep one.",
        )
        return _page(request, text, 422, [stop])
    try:
        definition = definition_of(documents[0])
    except LinkError as err:
        return _page(request, text, 422, [Problem(1, 1, "", str(err))])
    assert documents[0].compiled is not None
    return RedirectResponse(play_link(documents[0].compiled.source.id, (), definition=definition), 303)


@router.post("/edit/compare", include_in_schema=False)
async def compare(request: Request) -> Response:
    """Compare designs: two to four scenarios of the text, side by side in the fix verifier."""
    text = await form_text(request)
    documents, problems = check_documents(text)
    if problems:
        return _page(request, text, 422, problems)
    if len(documents) < 2:
        stop = Problem(
            1,
            1,
            "",
            "Compare designs needs two to four scenarios in the text, each its own YAML document after a line "
            "'---'. Add another design below this one.",
        )
        return _page(request, text, 422, [stop])
    try:
        definitions = [definition_of(d) for d in documents]
    except LinkError as err:
        return _page(request, text, 422, [Problem(1, 1, "", str(err))])
    query = urlencode([("def", d) for d in definitions])
    return RedirectResponse(f"/families/custom?{query}", 303)


@router.post("/edit/download", include_in_schema=False)
async def download(request: Request) -> Response:
    """The text as a file, as it is (valid or not), named after its scenario's id when it has one."""
    text = await form_text(request)
    name = "scenario"
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        candidate = data["id"]
        if candidate and all(c.isascii() and (c.isalnum() or c == "-") for c in candidate[:64]):
            name = candidate[:64].lower()
    return Response(
        text,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.yaml"'},
    )
