"""The one place user-facing text goes through, so it can be translated later.

Use ``_`` in request code and templates, ``_l`` (lazy) for text defined at import
time such as form labels.
"""

from flask import Flask
from flask.globals import _cv_app
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel import lazy_gettext as _l
from jinja2 import nodes, pass_eval_context
from jinja2.compiler import CodeGenerator
from jinja2.idtracking import VAR_LOAD_RESOLVE
from markupsafe import Markup

__all__ = ["_", "_l", "install_jinja_gettext", "ngettext"]


def _translations():
    """The translations for this app context, looked up once and kept in ``g``.

    Flask-Babel looks its context, domain and locale up again on every call, about
    10 microseconds each; a page has dozens of ``_()`` calls. The locale is fixed
    for a request (there is no per-request locale selector), so once is enough.
    """
    app_context = _cv_app.get(None)  # ``g`` itself, without its proxy (called dozens of times)
    if app_context is None:  # no app context: nothing to keep it in
        return get_translations()
    kept = app_context.g.__dict__
    cached = kept.get("_lms_translations")
    if cached is None:
        cached = kept["_lms_translations"] = get_translations()
    return cached


def locale_and_zone() -> tuple[str, str]:
    """This request's locale and time zone as text, looked up once per app context
    (Flask-Babel's ``get_locale`` and ``get_timezone`` cost a few microseconds a call;
    the ``|date`` filter asks for both on every date)."""
    app_context = _cv_app.get(None)
    if app_context is None:
        return str(get_locale()), str(get_timezone())
    kept = app_context.g.__dict__
    cached = kept.get("_lms_locale_and_zone")
    if cached is None:
        cached = kept["_lms_locale_and_zone"] = (str(get_locale()), str(get_timezone()))
    return cached


def locale_text() -> str:
    """This request's locale as text (``str(get_locale())``), looked up once per app
    context: a quiz page asks for it for each question's kept markup."""
    app_context = _cv_app.get(None)
    if app_context is None:
        return str(get_locale())
    kept = app_context.g.__dict__
    cached = kept.get("_lms_locale")
    if cached is None:
        cached = kept["_lms_locale"] = str(get_locale())
    return cached


def _(string: str, **variables) -> str:
    """``string`` translated, with ``%(name)s`` filled from ``variables`` (as
    Flask-Babel's ``gettext``, through the translations kept for the request)."""
    text = _translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """The singular or plural form for ``num``, translated, ``%(num)d`` and ``variables``
    filled in (as Flask-Babel's ``ngettext``)."""
    variables.setdefault("num", num)
    return _translations().ungettext(singular, plural, num) % variables


@pass_eval_context
def _template_gettext(eval_ctx, string: str, **variables) -> str:
    # Jinja's newstyle gettext (jinja2.ext._make_new_gettext) without its inner
    # ``context.call`` of the callable: the same text, escaping and formatting. It takes
    # the evaluation context only (all it reads): a ``pass_context`` callable called in a
    # loop or block that sets variables gets a copy of the whole template context made
    # for each call (jinja2.runtime.Context.call, ``derived``), 30 microseconds a label.
    text = _translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - as Jinja's: the translation is trusted text
    # Formatting with nothing gives the same text when it holds no "%" (most do).
    return text % variables if variables or "%" in text else text


@pass_eval_context
def _template_ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    text = _translations().ungettext(singular, plural, num)
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - as Jinja's
    return text % variables


def constant_text(string: str, autoescape: bool):
    """What ``{{ _('constant text') }}`` gives (as :func:`_template_gettext`), kept per
    translations object: templates call this for a translated constant without
    variables (about 27 a reading page, 44 on the dashboard) instead of going through
    ``Context.call`` and the gettext callable (see :class:`_TextCodeGenerator`)."""
    translations = _translations()
    texts = translations.__dict__.get("_lms_constant_texts")
    if texts is None:
        texts = translations.__dict__["_lms_constant_texts"] = {}
    key = (string, autoescape)
    text = texts.get(key)
    if text is None:
        text = translations.ugettext(string)
        if autoescape:
            text = Markup(text)  # noqa: S704 - as Jinja's: the translation is trusted text
        if "%" in text:
            text = text % {}
        texts[key] = text
    return text


def _assigned(symbols, name: str) -> bool:
    """Whether the template assigns ``name`` (``{% set %}``, a loop...) here or around."""
    while symbols is not None:
        if name in symbols.stores:
            return True
        symbols = symbols.parent
    return False


def direct_gettext(autoescape: bool, string: str, /, **variables):
    """:func:`_template_gettext` called straight from a template's code, with its
    autoescaping (see :class:`_TextCodeGenerator`)."""
    if not variables:
        return constant_text(string, autoescape)
    text = _translations().ugettext(string)
    if autoescape:
        text = Markup(text)  # noqa: S704 - as Jinja's: the translation is trusted text
    return text % variables


def direct_ngettext(autoescape: bool, singular: str, plural: str, num: int, /, **variables):
    """:func:`_template_ngettext` called straight from a template's code."""
    variables.setdefault("num", num)
    text = _translations().ungettext(singular, plural, num)
    if autoescape:
        text = Markup(text)  # noqa: S704 - as Jinja's
    return text % variables


#: Template globals compiled to direct calls: name -> (the global, environment attribute).
_DIRECT = {
    "_": (_template_gettext, "lms_gettext"),
    "gettext": (_template_gettext, "lms_gettext"),
    "ngettext": (_template_ngettext, "lms_ngettext"),
}


class _TextCodeGenerator(CodeGenerator):
    """Jinja's code generator, but calls of the template globals ``_``, ``gettext`` and
    ``ngettext`` (ours, not a name the template assigns) with plain arguments compile to
    direct calls of :func:`constant_text` (one constant text and nothing else),
    :func:`direct_gettext` or :func:`direct_ngettext`: the same text and escaping,
    without ``Context.call`` and its checks for each (the locale is still read per
    request). A page has 27 (reading) to 48 (dashboard) of them."""

    def visit_Call(self, node, frame, forward_caller: bool = False) -> None:
        callee = node.node
        direct = _DIRECT.get(callee.name) if isinstance(callee, nodes.Name) else None
        if (
            direct is None
            or forward_caller
            or not node.args
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
            or frame.symbols.find_load(frame.symbols.ref(callee.name))
            != (VAR_LOAD_RESOLVE, callee.name)
            or _assigned(frame.symbols, callee.name)
            or self.environment.globals.get(callee.name) is not direct[0]
        ):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        autoescape = (
            "context.eval_ctx.autoescape"
            if frame.eval_ctx.volatile
            else repr(bool(frame.eval_ctx.autoescape))
        )
        first = node.args[0]
        if (
            direct[1] == "lms_gettext"
            and len(node.args) == 1
            and not node.kwargs
            and isinstance(first, nodes.Const)
            and isinstance(first.value, str)
        ):
            self.write(f"environment.lms_constant_text({first.value!r}, {autoescape})")
            return
        self.write(f"environment.{direct[1]}({autoescape}")
        for arg in node.args:
            self.write(", ")
            self.visit(arg, frame)
        for keyword in node.kwargs:
            self.write(f", {keyword.key}=")
            self.visit(keyword.value, frame)
        self.write(")")


def install_jinja_gettext(app: Flask) -> None:
    """Give templates ``_``/``gettext`` and friends through :func:`_translations`.

    Call after ``babel.init_app`` (which installs its own, slower callables).
    """
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    # The two a page calls dozens of times, without the wrapper's second call; ``_``
    # straight to gettext rather than through Jinja's alias, which looks it up again by
    # name on each call.
    app.jinja_env.globals["gettext"] = _template_gettext
    app.jinja_env.globals["ngettext"] = _template_ngettext
    app.jinja_env.globals["_"] = _template_gettext
    app.jinja_env.lms_constant_text = constant_text
    app.jinja_env.lms_gettext = direct_gettext
    app.jinja_env.lms_ngettext = direct_ngettext
    app.jinja_env.code_generator_class = _TextCodeGenerator
