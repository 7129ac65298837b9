"""`record` and `tuple_record`: a frozen dataclass and a named tuple that are cheap to define.

Every `gpubal doctor` start defines some sixty such classes; defining them was most of what importing
gpubal.model cost. `@dataclass(frozen=True)` writes six methods as source text for each class and compiles
each one (`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`), then asks
`inspect.signature` for a docstring when the class has none. Measured over gpubal.model's 27 classes (one
process, 40 interleaved runs of the module's code, medians, on a shared and busy 2-core VM: the ratios are
the figure; the doctor's import step there went from 36 to 10 ms when it was quieter):

    Python                                          3.9     3.11    3.12    3.13
    dataclass(frozen=True)                          42 ms   44 ms   54 ms   44 ms
    frozen, repr=False, eq=False, methods on a base 28 ms   26 ms   33 ms   28 ms
    frozen, and our own __init__ as well            21 ms   24 ms   27 ms   26 ms
    record                                          12 ms   13 ms   14 ms   17 ms

A frozen dataclass stays costly whatever else it is told: dataclass compiles `__setattr__` and
`__delattr__` for it. So `record` asks `dataclass` for the fields only (init, repr, eq and frozen off: it
compiles nothing), compiles `__init__` alone, and gives the class the other five as closures over its field
names, which compile nothing. Each does what the dataclass-written method does on the running Python
(tests/model/test_record.py compares every record class with its `dataclass(frozen=True)` twin): the same
repr, ==, != and hash, FrozenInstanceError on assigning or deleting an attribute, and `fields`, `replace`,
`asdict`, `is_dataclass`, field metadata, default factories and init=False fields as before. The one
visible difference: `__dataclass_params__` says frozen=False, so a dataclass may not inherit from a record
(none does). A class without a docstring gets dataclass's "Name(field: type, ...)" when it is read.

A record's `__init__` sets each field with `object.__setattr__`, as a frozen dataclass's does, but holds
it as one name instead of looking it up per field: `Known(1, "x")` takes 0.8 µs where it took 1.0 (3.11;
3.9: 0.90 from 1.10, 3.13: 0.41 from 0.51). Hash and == cost a call more than the compiled ones (0.3 µs),
and a doctor run calls neither on a model class.
"""

from __future__ import annotations

import _thread
import collections
import inspect
import operator
import sys
from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import Any, Callable, Dict, List, NamedTuple, Tuple, TypeVar

C = TypeVar("C", bound=type)

# Python 3.13 compares the fields one by one (`self.a == other.a and ...`, after an identity test);
# 3.9-3.12 compare tuples of them (which treats an identical field as equal without asking it).
_FIELD_BY_FIELD_EQ = sys.version_info >= (3, 13)

_REPR_RUNNING = set()  # (id, thread) of the records whose repr is being made: a record inside itself is "..."


class _Factory:
    """The default a record's `__init__` shows for a field with a default factory, as dataclasses does."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


class _SignatureDoc:
    """The docstring dataclass gives a class that has none, "Name(field: type, ...)", made when read:
    `inspect.signature` is slow, and only `help()` reads it."""

    def __get__(self, instance: Any, owner: type) -> str:
        try:
            text = str(inspect.signature(owner)).replace(" -> None", "")
        except (TypeError, ValueError):
            text = ""
        return owner.__name__ + text


def record(cls: C) -> C:
    """A frozen dataclass, cheap to define: `@record` in place of `@dataclass(frozen=True)`.

    Plain fields only (defaults, default factories, init=False, repr/compare/hash/metadata options, a
    `__post_init__` without InitVar); a class that needs more is a TypeError here: use `dataclass` there."""
    undocumented = cls.__dict__.get("__doc__") is None
    if undocumented:
        cls.__doc__ = "-"  # spares dataclass its inspect.signature; replaced below
    own = {name for name in ("__init__", "__repr__", "__eq__", "__hash__") if name in cls.__dict__}
    explicit_hash = "__hash__" in own and not (cls.__dict__["__hash__"] is None and "__eq__" in own)
    for name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:  # as dataclass(frozen=True) refuses it
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    cls = dataclass(init=False, repr=False, eq=False)(cls)
    all_fields = fields(cls)
    if len(all_fields) != len(cls.__dict__["__dataclass_fields__"]) or any(
            getattr(one, "kw_only", False) is True for one in all_fields):
        raise TypeError(f"{cls.__name__}: record takes plain fields only (no ClassVar, InitVar or kw_only)")
    methods = {
        "__setattr__": _frozen_setattr(cls, frozenset(one.name for one in all_fields)),
        "__delattr__": _frozen_delattr(cls, frozenset(one.name for one in all_fields)),
    }
    if "__init__" not in own:
        methods["__init__"] = _init(cls, all_fields)
    if "__repr__" not in own:
        methods["__repr__"] = _repr(tuple(one.name for one in all_fields if one.repr))
    if "__eq__" not in own:
        methods["__eq__"] = _eq(tuple(one.name for one in all_fields if one.compare))
    if not explicit_hash:
        methods["__hash__"] = _hash(tuple(one.name for one in all_fields
                                          if (one.compare if one.hash is None else one.hash)))
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if undocumented:
        cls.__doc__ = _SignatureDoc()
    return cls


def _init(cls: type, all_fields: Tuple[Any, ...]) -> Callable[..., None]:
    """The `__init__` dataclass(frozen=True) would write, compiled here: it alone needs its own parameters."""
    parameters: List[str] = []
    defaults: List[Any] = []
    body: List[str] = []
    # the names it uses besides its parameters are ones no field has, as dataclass's __dataclass_..__ names
    namespace: Dict[str, Any] = {"__record_set__": object.__setattr__, "__record_factory__": _FACTORY}
    for one in all_fields:
        if one.name == "self":
            raise TypeError(f"{cls.__name__}: a record has no field named self")
        if one.default_factory is not MISSING:
            namespace[f"__record_factory_{one.name}__"] = one.default_factory
            if one.init:
                value = f"__record_factory_{one.name}__() if {one.name} is __record_factory__ else {one.name}"
            else:
                value = f"__record_factory_{one.name}__()"
        elif one.init:
            value = one.name
        else:
            continue  # init=False with a plain default: the class attribute holds it, as in a dataclass
        body.append(f" __record_set__(self, {one.name!r}, {value})")
        if one.init:
            parameters.append(one.name)
            if one.default_factory is not MISSING or one.default is not MISSING:
                defaults.append(_FACTORY if one.default_factory is not MISSING else one.default)
            elif defaults:
                raise TypeError(f"non-default argument {one.name!r} follows default argument")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    exec(f"def __init__(self, {', '.join(parameters)}):\n" + ("\n".join(body) or " pass") + "\n", namespace)
    function = namespace["__init__"]
    function.__defaults__ = tuple(defaults) or None
    function.__annotations__ = {**{one.name: one.type for one in all_fields if one.init}, "return": None}
    return function


def _frozen_setattr(cls: type, names: frozenset) -> Callable[..., None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)
    return __setattr__


def _frozen_delattr(cls: type, names: frozenset) -> Callable[..., None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return __delattr__


def _values(names: Tuple[str, ...]) -> Callable[[Any], Tuple[Any, ...]]:
    """A function giving the tuple of these attributes of an object; attrgetter makes one only from two names."""
    if len(names) >= 2:
        return operator.attrgetter(*names)
    if names:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return lambda obj: ()


def _repr(names: Tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        key = id(self), _thread.get_ident()
        if key in _REPR_RUNNING:
            return "..."
        _REPR_RUNNING.add(key)
        try:
            return self.__class__.__qualname__ + "(" + ", ".join(
                [f"{name}={getattr(self, name)!r}" for name in names]) + ")"
        finally:
            _REPR_RUNNING.discard(key)
    return __repr__


def _eq(names: Tuple[str, ...]) -> Callable[[Any, Any], Any]:
    if _FIELD_BY_FIELD_EQ:
        def __eq__(self: Any, other: Any) -> Any:
            if self is other:
                return True
            if other.__class__ is self.__class__:
                result: Any = True
                for name in names:  # `a == a2 and b == b2 and ...`: the first false answer, else the last
                    result = getattr(self, name) == getattr(other, name)
                    if not result:
                        return result
                return result
            return NotImplemented
        return __eq__
    values = _values(names)

    def __eq__(self: Any, other: Any) -> Any:  # type: ignore[no-redef]
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented
    return __eq__


def _hash(names: Tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(names)

    def __hash__(self: Any) -> int:
        return hash(values(self))
    return __hash__



_NOT_COPIED = frozenset({"__module__", "__qualname__", "__doc__", "__annotations__", "__dict__", "__weakref__"})
_NAMEDTUPLE_OWN = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})


def tuple_record(cls: type) -> Any:
    """A named tuple written as a class: `@tuple_record` in place of `class Name(NamedTuple)`, giving the class
    typing.NamedTuple gives (collections.namedtuple with the fields and their defaults, the docstring, the
    class's methods and properties), for less: typing checks each annotation (and under `from __future__ import
    annotations` compiles each string into a ForwardRef), which nothing here reads; `__annotations__` keeps
    them as written. Measured on matrix/rows.py (19 row types and the Matrix; median of 40 interleaved runs of
    the module's code), Python 3.9 / 3.11 / 3.12 / 3.13:

        typing.NamedTuple, postponed annotations    4.0 / 4.1 / 5.3 / 5.6 ms
        typing.NamedTuple, annotations evaluated    3.1 / 3.3 / 4.1 / 4.2 ms
        tuple_record, postponed annotations         2.8 / 2.5 / 3.2 / 3.2 ms
    """
    namespace = cls.__dict__
    annotations = dict(namespace.get("__annotations__", {}))
    default_names: List[str] = []
    for name in annotations:
        if name in namespace:
            default_names.append(name)
        elif default_names:  # typing.NamedTuple's own words
            raise TypeError(f"Non-default namedtuple field {name} cannot follow default field"
                            f"{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}")
    made = collections.namedtuple(cls.__name__, tuple(annotations),
                                  defaults=[namespace[name] for name in default_names], module=cls.__module__)
    made.__annotations__ = made.__new__.__annotations__ = annotations
    for key, value in namespace.items():
        if key in _NAMEDTUPLE_OWN:
            raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
        if key not in _NOT_COPIED and key not in annotations:
            setattr(made, key, value)
    if namespace.get("__doc__") is not None:
        made.__doc__ = namespace["__doc__"]
    made.__qualname__ = cls.__qualname__
    made.__orig_bases__ = (NamedTuple,)  # as a class statement naming NamedTuple leaves it
    return made
