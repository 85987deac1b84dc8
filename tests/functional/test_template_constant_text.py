"""Templates' ``_('constant')`` compiled to lms.i18n.constant_text give what the
gettext callable gives (escaping, ``%%``, autoescape blocks, a shadowed ``_``)."""

from __future__ import annotations

from flask import Flask
from jinja2.compiler import CodeGenerator

SOURCE = (
    "{{ _('Plain') }}|{{ _('a <b> & \"c\"') }}|{{ gettext('100%% sure') }}|"
    "{{ _('Hello, %(name)s', name='<x>') }}|{{ _('Skip to main content') ~ '<' }}|"
    "{% autoescape false %}{{ _('a <b>') }}{% endautoescape %}|"
    "{% for i in [1, 2] %}{{ _('In a loop') }}{% set x = i %}{% endfor %}|"
    "{% macro m(_) %}{{ _('p') }}{% endmacro %}{{ m(upper) }}|"
    "{% set _ = upper %}{{ _('shadowed') }}"
)


def test_constant_text_is_gettext(app: Flask):
    with app.test_request_context("/"):
        env = app.jinja_env
        generator = env.code_generator_class
        assert generator is not CodeGenerator
        assert "lms_constant_text" in env.compile(SOURCE, raw=True)
        fast = env.from_string(SOURCE).render(upper=str.upper)
        env.code_generator_class = CodeGenerator
        try:
            assert "lms_constant_text" not in env.compile(SOURCE, raw=True)
            plain = env.from_string(SOURCE).render(upper=str.upper)
        finally:
            env.code_generator_class = generator
        assert fast == plain
        assert 'Plain|a <b> & "c"|100% sure|Hello, &lt;x&gt;|' in fast
