"""The scenario editor and POST /api/scenarios/validate: every problem at its line and column, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.authoring import MAX_YAML_CHARS, check_documents, check_yaml, scenario_yaml
from app.scenarios import SCENARIO_DIR, load_library
from app.web.editor import BLANK
from app.web.links import decode_definition

LIBRARY = load_library()
CHECK_ZERO = (SCENARIO_DIR / "protect-check-zero.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def validate(client: TestClient, text: str) -> dict:
    response = client.post("/api/scenarios/validate", json={"yaml": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_blank_template_is_valid_and_asks_for_no_expect_demo_or_bugs(client: TestClient) -> None:
    body = validate(client, BLANK)
    assert body == {"valid": True, "errors": [], "scenarios": ["my-close"], "link": body["link"]}
    assert body["link"].startswith("/play/custom?v=2&def=")
    data = {line.split(":")[0] for line in BLANK.splitlines() if line and not line[0].isspace()}
    assert not {"expect", "demo", "bugs"} & data


def test_a_yaml_syntax_error_comes_back_with_its_line_and_column(client: TestClient) -> None:
    text = "id: mine\ntitle: ok\nsummary: ok\n  threads: oops\n"
    body = validate(client, text)
    assert body["valid"] is False
    [error] = body["errors"]
    assert (error["line"], error["column"]) == (4, 10)
    assert "YAML syntax" in error["message"]


def test_a_schema_error_names_its_line_column_field_and_fix(client: TestClient) -> None:
    text = CHECK_ZERO.replace("name: Closer", "name: closer")
    [error] = validate(client, text)["errors"]
    assert error["line"] == line_of(text, "name: closer")
    assert error["column"] == text.splitlines()[error["line"] - 1].index("closer") + 1
    assert error["field"] == "threads.1.name"
    assert "must start with a capital letter" in error["message"]


def test_a_misspelt_field_is_shown_at_its_key(client: TestClient) -> None:
    text = CHECK_ZERO.replace("{op: WskSend, irp: irpS, into: st}", "{op: WskSend, irp: irpS, int: st}")
    [error] = validate(client, text)["errors"]
    assert error["line"] == line_of(text, "int: st")
    assert error["field"] == "threads.0.program.3.int"
    assert "not a field here" in error["message"]


def test_a_missing_field_is_shown_where_its_mapping_starts(client: TestClient) -> None:
    text = CHECK_ZERO.replace("title: ", "titel: ")
    errors = validate(client, text)["errors"]
    assert {(e["field"], e["line"]) for e in errors} == {("title", 1), ("titel", 2)}
    assert any("'title' is required here: add it" in e["message"] for e in errors)


def test_a_cross_check_is_shown_at_the_statement_it_names(client: TestClient) -> None:
    text = CHECK_ZERO.replace("{op: WskSend, irp: irpS, into: st}", "{op: WskSend, irp: irpX, into: st}")
    [error] = validate(client, text)["errors"]
    assert error["line"] == line_of(text, "irp: irpX")
    assert error["field"] == "threads.0.program.3"
    assert "'irpX' is never allocated" in error["message"]


def test_a_scenario_of_ones_own_may_leave_out_expect_demo_and_bugs(client: TestClient) -> None:
    lines = [
        line
        for line in CHECK_ZERO.splitlines()
        if not line.startswith(("expect:", "demo:", "bugs:", "family:", "variant:"))
    ]
    assert validate(client, "\n".join(lines))["valid"] is True


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Write one scenario"),
        ("- a\n- b\n", "A scenario is a mapping"),
        ("id: 2024-01-01\n", "'title' is required"),
        ("? [a]\n: 1\n", "A key must be a plain name"),
        ("a: &a [*a, *a]\n", "aliases"),
        ("a: !!binary aGVsbG8=\n", "not allowed"),
        ("a: !!python/object:os.system {}\n", "YAML"),
        ("[" * 5000, "YAML"),
        ("initial: 1e999999\n", "required"),
    ],
)
def test_odd_text_is_an_answer_not_a_500(client: TestClient, text: str, says: str) -> None:
    body = validate(client, text)
    assert body["valid"] is False
    assert says in " ".join(e["message"] for e in body["errors"])


def test_the_text_is_bounded(client: TestClient) -> None:
    response = client.post("/api/scenarios/validate", json={"yaml": "#" * (MAX_YAML_CHARS + 1)})
    assert response.status_code == 422
    assert str(MAX_YAML_CHARS) in response.json()["detail"]


def test_every_built_in_written_out_reads_back_as_itself() -> None:
    for compiled in LIBRARY.scenarios.values():
        checked = check_yaml(scenario_yaml(compiled.source))
        assert checked.compiled is not None, (compiled.source.id, checked.problems)
        assert checked.compiled.fingerprint == compiled.fingerprint


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_no_text_makes_the_check_raise(text: str) -> None:
    documents, problems = check_documents(text)
    assert problems or documents
    for p in problems:
        assert p.line >= 1 and p.column >= 1 and p.message


# -- the page ----------------------------------------------------------------------------------------------------------


def test_the_editor_starts_from_the_template_or_a_built_in(client: TestClient) -> None:
    page = client.get("/edit")
    assert page.status_code == 200
    assert "my-close" in page.text and 'id="scenario-yaml"' in page.text
    copy = client.get("/edit", params={"from": "protect-check-zero"})
    assert "check zero, then close" in copy.text
    assert client.get("/edit", params={"from": "no-such-scenario"}).status_code == 404


def test_every_stage_offers_edit_a_copy(client: TestClient) -> None:
    built_in = client.get("/play/protect-none", params={"v": "2", "s": ""})
    assert 'href="/edit?from=protect-none">Edit a copy' in built_in.text
    run = client.post("/edit/run", data={"yaml": BLANK}, follow_redirects=False)
    custom = client.get(run.headers["location"])
    definition = run.headers["location"].split("def=")[1].split("&")[0]
    assert f'href="/edit?def={definition}">Edit a copy' in custom.text
    copied = client.get("/edit", params={"def": definition})
    assert "my-close" in copied.text


def test_checking_as_you_type_marks_the_line_in_the_gutter(client: TestClient) -> None:
    text = CHECK_ZERO.replace("name: Closer", "name: closer")
    response = client.post("/edit/check", data={"yaml": text})
    line = line_of(text, "name: closer")
    assert f'data-line="{line}"' in response.text
    assert f'<li class="bad">{line}</li>' in response.text
    assert 'hx-swap-oob="true"' in response.text


def test_run_redirects_to_the_stage_with_the_scenario_in_the_link(client: TestClient) -> None:
    response = client.post("/edit/run", data={"yaml": BLANK}, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert decode_definition(location.split("def=")[1].split("&")[0])["id"] == "my-close"
    assert client.get(location).status_code == 200


def test_run_with_a_problem_shows_the_editor_with_it(client: TestClient) -> None:
    response = client.post("/edit/run", data={"yaml": BLANK.replace("id: my-close", "id: My Close")})
    assert response.status_code == 422
    assert "Line 4, column 5" in response.text
    assert "My Close" in response.text  # the text is kept


def test_download_names_the_file_after_the_scenario(client: TestClient) -> None:
    response = client.post("/edit/download", data={"yaml": BLANK})
    assert response.headers["content-disposition"] == 'attachment; filename="my-close.yaml"'
    assert response.text == BLANK


def test_compare_needs_two_designs(client: TestClient) -> None:
    one = client.post("/edit/compare", data={"yaml": BLANK}, follow_redirects=False)
    assert one.status_code == 422 and "two to four" in one.text
    two = BLANK + "---\n" + BLANK.replace("id: my-close", "id: my-other-close")
    response = client.post("/edit/compare", data={"yaml": two}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/families/custom?def=")


def test_the_form_must_be_a_form(client: TestClient) -> None:
    response = client.post("/edit/check", json={"yaml": BLANK})
    assert response.status_code == 415


def test_the_blank_template_file_is_shipped_with_the_app() -> None:
    assert Path("app/web/blank-scenario.yaml").is_file()
