"""The templates' environment looks a view's dict up by key first (app/web/render.py): every lookup must give what
Jinja's own order gives, attribute first, for keys, missing names and dict's own methods alike."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, Undefined, select_autoescape

from app.web.render import ViewEnvironment

# Keys a view might hold, dict's own attribute names among them (a scenario's local variable may be called items).
names = st.sampled_from(["kind", "status", "items", "keys", "get", "copy", "values", "__class__", "x", "n_1"])


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Undefined) or isinstance(b, Undefined):
        return type(a) is type(b)
    return bool(a == b)


@given(st.dictionaries(names, st.integers()), names)
def test_a_dict_is_looked_up_as_jinja_would(view: dict[str, int], name: str) -> None:
    ours, jinjas = ViewEnvironment(), Environment()
    assert same(ours.getattr(view, name), jinjas.getattr(view, name))


@given(st.dictionaries(names, st.integers()), names)
def test_a_dict_subclass_and_an_object_take_jinjas_own_path(view: dict[str, int], name: str) -> None:
    ordered = OrderedDict(view)
    assert same(ViewEnvironment().getattr(ordered, name), Environment().getattr(ordered, name))


def test_a_template_renders_alike_in_both_environments() -> None:
    text = (
        "{{ d.kind }}|{{ d.missing is defined }}|{{ d['items'] }}|{{ d.items is callable }}|"
        "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
    )
    view = {"d": {"kind": "<b>", "items": 3}}
    ours = ViewEnvironment(autoescape=select_autoescape()).from_string(text).render(view)
    jinjas = Environment(autoescape=select_autoescape()).from_string(text).render(view)
    assert ours == jinjas == "&lt;b&gt;|False|3|True|kind=&lt;b&gt;;items=3;"
