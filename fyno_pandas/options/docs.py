"""Signatures, numpy-style docs and the options table, generated from `fyno_pandas.options.model`.

`takes` gives a function that accepts ``**options`` the real keyword signature of its entry
point: ``inspect.signature``, ``help()`` and Jupyter's Shift-Tab show every option with its type
and default, and the docstring's Parameters section lists each with its one line of doc. At
call time it checks the options once (`check_options`) and hands the function all of them.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from .model import ENTRY_POINTS, OPTIONS, Option, checked_groups, defaults

__all__ = ["options_table_markdown", "parameters_doc", "takes"]

F = TypeVar("F", bound=Callable[..., Any])
#: Makes an entry point's request of its checked option groups and its own arguments.
Build = Callable[..., Any]


def takes(entry: str, build: Build | None = None) -> Callable[[F], F]:
    """Give ``func(..., **options)`` the options of ``entry`` as keyword-only parameters.

    The function's own parameters (all but ``**options``) come first and pass through; the
    options are checked and completed with their defaults before ``func`` runs, so ``func``
    receives every option of ``entry`` in ``options``; with ``build``, it receives instead one
    keyword, ``request``: what ``build(groups, *args)`` makes of the checked option groups (by
    dataclass) and the function's own arguments. An option it does not take raises
    `FynoOptionError` (a `TypeError`, as for any unknown keyword).

    Type checkers see the function as written (``**options: Any``): they accept any keyword,
    which is honest, since the check happens at run time. A parameter list written out per
    function would repeat the declaration in eight places, and one generated with ``exec``
    would be as invisible to them as ``__signature__`` is.
    """

    def decorate(func: F) -> F:
        try:
            own = inspect.signature(func, eval_str=True)
        except NameError:  # an annotation only a type checker can resolve
            own = inspect.signature(func)
        head = [
            p
            for p in own.parameters.values()
            if p.kind is not p.VAR_KEYWORD and p.name != "request"
        ]
        positional = {p.name for p in head}
        entry_defaults = defaults(entry)
        tail = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=entry_defaults[name],
                annotation=OPTIONS[name].annotation,
            )
            for name in ENTRY_POINTS[entry]
        ]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            options = {k: kwargs.pop(k) for k in list(kwargs) if k not in positional}
            values, groups = checked_groups(entry, options)
            if build is None:
                return func(*args, **kwargs, **values)
            bound = own.bind_partial(*args, **kwargs).arguments
            return func(*args, **kwargs, request=build(groups, *bound.values()))

        wrapper.__signature__ = own.replace(parameters=[*head, *tail])  # type: ignore[attr-defined]
        wrapper.__doc__ = _with_parameters(func.__doc__ or "", parameters_doc(entry))
        return wrapper  # type: ignore[return-value]

    return decorate


def _type_text(option: Option, default: Any) -> str:
    """numpy-doc's type: ``int, default 16``, ``{'skip', 'unset', 'error'}, default 'skip'``."""
    choices = option.choices
    if choices is not None:
        kind = "{" + ", ".join(map(repr, choices)) + "}"
    elif option.annotation is Any:
        kind = "object"
    else:
        kind = inspect.formatannotation(option.annotation).removesuffix(" | None")
        kind = re.sub(r"\b(?:[a-z_]+\.)+(?=[A-Za-z_]+\b)", "", kind)  # collections.abc. etc.
    return f"{kind}, optional" if default is None else f"{kind}, default {default!r}"


def parameters_doc(entry: str) -> str:
    """The numpy-style Parameters entries of ``entry``'s options."""
    lines = []
    for name, default in defaults(entry).items():
        option = OPTIONS[name]
        lines += [f"{name} : {_type_text(option, default)}", f"    {option.doc}"]
    return "\n".join(lines)


def _with_parameters(doc: str, entries: str) -> str:
    """``doc`` with ``entries`` at the end of its Parameters section (added if missing)."""
    lines = inspect.cleandoc(doc).splitlines()
    headers = [
        i for i in range(len(lines) - 1) if lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
    ]
    starts = [i for i in headers if lines[i].strip() == "Parameters"]
    if not starts:
        return "\n".join([*lines, "", "Parameters", "----------", entries])
    after = [i for i in headers if i > starts[0]]
    end = after[0] if after else len(lines)
    while end > starts[0] + 2 and not lines[end - 1].strip():
        end -= 1
    return "\n".join([*lines[:end], entries, *lines[end:]])


def _flags_text(option: Option) -> str:
    shown = [
        f"`{flag.spelling}` (= {flag.const!r})" if flag.switch else f"`{flag.spelling}`"
        for flag in option.flags
    ]
    return ", ".join(shown) or "Python only"


def options_table_markdown() -> str:
    """The options table of docs/topics/configuration.md: option, default, CLI flags, meaning."""
    rows = ["| option | default | CLI flag | meaning |", "|---|---|---|---|"]
    for option in OPTIONS.values():
        default = f"`{option.default!r}`"
        rows.append(f"| `{option.name}` | {default} | {_flags_text(option)} | {option.doc} |")
    return "\n".join(rows)
