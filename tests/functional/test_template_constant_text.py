"""Templates' ``_()``/``ngettext()`` compiled to direct calls (lms.i18n) give what the
gettext callables give (escaping, ``%%``, autoescape blocks, a shadowed ``_``)."""

from __future__ import annotations

import pytest
from flask import Flask
from jinja2.compiler import CodeGenerator

SOURCE = (
    "{{ _('Plain') }}|{{ _('a <b> & \"c\"') }}|{{ gettext('100%% sure') }}|"
    "{{ _('Hello, %(name)s', name='<x>') }}|{{ _('Skip to main content') ~ '<' }}|"
    "{% autoescape false %}{{ _('a <b>') }}{% endautoescape %}|"
    "{% for i in [1, 2] %}{{ _('In a loop') }}{% set x = i %}{% endfor %}|"
    "{% macro m(_) %}{{ _('p') }}{% endmacro %}{{ m(upper) }}|"
    "{{ ngettext('%(num)d day', '%(num)d days', n) }}|"
    "{{ ngettext('%(num)d of %(what)s', '%(num)d of %(what)s', 2, what='<w>') }}|"
    "{{ _('%(a)s and %(b)s', b=n, a='&') }}|{{ gettext('100%%') }}|"
    "{% trans %}Trans <i>block</i>{% endtrans %}|{% trans count=n %}One{% pluralize %}"
    "{{ count }} many{% endtrans %}|{% trans w='<' %}With {{ w }}{% endtrans %}|"
    "{% autoescape false %}{{ _('%(x)s', x='<') }}{% endautoescape %}"
)
#: A template that assigns ``_`` itself keeps its own.
SHADOWED = "{{ _('before') }}|{% set _ = upper %}{{ _('shadowed') }}"


@pytest.mark.parametrize("source", [SOURCE, SHADOWED])
def test_direct_calls_give_what_gettext_gives(app: Flask, source: str):
    with app.test_request_context("/"):
        env = app.jinja_env
        generator = env.code_generator_class
        assert generator is not CodeGenerator
        fast = env.from_string(source).render(upper=str.upper, n=3)
        env.code_generator_class = CodeGenerator
        try:
            plain = env.from_string(source).render(upper=str.upper, n=3)
        finally:
            env.code_generator_class = generator
        assert fast == plain


def test_the_page_texts_are_direct_calls(app: Flask):
    with app.test_request_context("/"):
        code = app.jinja_env.compile(SOURCE, raw=True)
        assert code.count("environment.lms_constant_text(") >= 6
        assert code.count("environment.lms_gettext(") >= 3
        assert code.count("environment.lms_ngettext(") >= 3
        # Only the macro's own ``_`` (a parameter) and the macro call itself go through it.
        assert code.count("context.call(") == 2
        text = app.jinja_env.from_string(SOURCE).render(upper=str.upper, n=3)
        assert text.startswith('Plain|a <b> & "c"|100% sure|Hello, &lt;x&gt;|')
        assert "|3 days|2 of &lt;w&gt;|&amp; and 3|100%|Trans <i>block</i>|3 many|" in text
        assert app.jinja_env.from_string(SHADOWED).render(upper=str.upper) == "before|SHADOWED"
