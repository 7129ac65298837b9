"""Every `@record` class behaves as the `@dataclass(frozen=True)` it replaces.

For each record class in gpubal (found by importing every module), a twin is made with
`dataclasses.make_dataclass(..., frozen=True)` from the same fields; instances of both, built from the same
values, must give the same repr, ==, != and hash, refuse assignment and deletion alike, and the classes the
same signature, docstring and fields. The twin's methods are the ones Python's own dataclasses write on the
running version (3.13 compares fields one by one, 3.9-3.12 as tuples), so the test follows the version.
Every `@tuple_record` class is compared in the same way with the class `typing.NamedTuple` makes from the
same source lines.
"""

from __future__ import annotations

import __future__
import dataclasses
import importlib
import inspect
import pkgutil
import sys
import textwrap
import typing
from typing import Any, Dict, List

import pytest

import gpubal
from gpubal.model import Known, Reason, Unavailable, record, tuple_record


def _record_classes() -> List[type]:
    for module in pkgutil.walk_packages(gpubal.__path__, "gpubal."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found = {}
    for name, module in list(sys.modules.items()):
        if name == "gpubal" or name.startswith("gpubal."):
            for value in vars(module).values():
                if isinstance(value, type) and _made_by_record(value):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _made_by_record(cls: type) -> bool:
    return getattr(cls.__dict__.get("__setattr__"), "__module__", None) == record.__module__


RECORDS = _record_classes()
ANNOTATIONS = __future__.annotations


def _twin(cls: type) -> type:
    """The class as `@dataclass(frozen=True)` makes it from the same fields."""
    namespace: Dict[str, Any] = {"__qualname__": cls.__qualname__, "__module__": cls.__module__}
    doc = cls.__dict__.get("__doc__")
    if isinstance(doc, str):
        namespace["__doc__"] = doc
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__post_init__"):
        own = cls.__dict__.get(name)
        if own is not None and getattr(own, "__module__", None) != record.__module__:
            namespace[name] = own
    specs = [(one.name, one.type, dataclasses.field(
        default=one.default, default_factory=one.default_factory, init=one.init, repr=one.repr, hash=one.hash,
        compare=one.compare, metadata=one.metadata)) for one in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, namespace=namespace)


def _init_names(cls: type) -> List[str]:
    return [one.name for one in dataclasses.fields(cls) if one.init]


def _values(cls: type, tag: str) -> List[Any]:
    return [(tag, number) for number, _ in enumerate(_init_names(cls))]


def test_records_are_found():
    names = {cls.__qualname__ for cls in RECORDS}
    assert {"Known", "Unavailable", "Snapshot", "Gpu", "Report", "BalanceReport"} <= names


@pytest.fixture(params=RECORDS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def pair(request):
    return request.param, _twin(request.param)


def test_the_class_reads_as_its_twin(pair):
    cls, twin = pair
    assert dataclasses.is_dataclass(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__doc__ == twin.__doc__
    assert getattr(cls, "__match_args__", None) == getattr(twin, "__match_args__", None)
    for mine, theirs in zip(dataclasses.fields(cls), dataclasses.fields(twin)):
        assert (mine.name, mine.type, mine.default, mine.default_factory, mine.init, mine.repr, mine.hash,
                mine.compare, dict(mine.metadata)) == (theirs.name, theirs.type, theirs.default,
                                                       theirs.default_factory, theirs.init, theirs.repr,
                                                       theirs.hash, theirs.compare, dict(theirs.metadata))


def test_repr_eq_and_hash_are_the_dataclass_ones(pair):
    cls, twin = pair
    values = _values(cls, "a")
    mine, theirs = cls(*values), twin(*values)
    assert repr(mine) == repr(theirs)
    assert hash(mine) == hash(theirs)
    same = cls(*[tuple(value) for value in values])  # equal values, other objects
    assert (mine == same, mine != same) == (theirs == twin(*values), theirs != twin(*values)) == (True, False)
    assert (mine == mine, mine != mine) == (True, False)
    assert mine.__eq__(theirs) is NotImplemented and mine != theirs
    for number in range(len(values)):  # one field changed at a time
        changed = values[:number] + [("b", number)] + values[number + 1:]
        assert (mine == cls(*changed), mine != cls(*changed)) == (theirs == twin(*changed), theirs != twin(*changed))
        assert (hash(cls(*changed)) == hash(mine)) == (hash(twin(*changed)) == hash(theirs))


def test_a_not_a_number_compares_as_in_the_dataclass(pair):
    # tuples treat an identical NaN as equal (3.9-3.12); Python 3.13 compares the field itself
    cls, twin = pair
    if not _init_names(cls):
        pytest.skip("no fields")
    nan = float("nan")
    values = [nan] + _values(cls, "a")[1:]
    assert (cls(*values) == cls(*values)) == (twin(*values) == twin(*values))
    assert (cls(*values) != cls(*values)) == (twin(*values) != twin(*values))


def test_a_record_inside_itself_prints_as_the_dataclass(pair):
    cls, twin = pair
    if not _init_names(cls):
        pytest.skip("no fields")
    mine_list: List[Any] = []
    theirs_list: List[Any] = []
    mine = cls(*[mine_list] + _values(cls, "a")[1:])
    theirs = twin(*[theirs_list] + _values(cls, "a")[1:])
    mine_list.append(mine)
    theirs_list.append(theirs)
    assert repr(mine) == repr(theirs)


def test_defaults_and_factories_as_in_the_dataclass(pair):
    cls, twin = pair
    required = [one.name for one in dataclasses.fields(cls) if one.init and one.default is dataclasses.MISSING
                and one.default_factory is dataclasses.MISSING]
    values = {name: ("a", number) for number, name in enumerate(required)}
    assert repr(cls(**values)) == repr(twin(**values))
    mine = cls(**values)
    assert dataclasses.asdict(mine) == dataclasses.asdict(twin(**values))
    assert repr(dataclasses.replace(mine, **values)) == repr(mine)


def test_assigning_or_deleting_raises_as_in_the_dataclass(pair):
    cls, twin = pair
    values = _values(cls, "a")
    for obj in (cls(*values), twin(*values)):
        for name in _init_names(cls)[:1] + ["not_a_field"]:
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
                setattr(obj, name, 1)
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
                delattr(obj, name)


def test_a_record_takes_the_field_options_a_dataclass_takes():
    @record
    class Options:
        plain: int
        hidden: str = dataclasses.field(default="h", repr=False)
        uncompared: int = dataclasses.field(default=0, compare=False)
        unhashed: int = dataclasses.field(default=0, hash=False)
        made: List[int] = dataclasses.field(default_factory=list, hash=False, metadata={"note": True})
        later: List[int] = dataclasses.field(default_factory=lambda: [7], init=False, hash=False)
        fixed: int = dataclasses.field(default=5, init=False)

    twin = _twin(Options)
    for args in ((1,), (1, "x", 2, 3, [4])):
        assert repr(Options(*args)) == repr(twin(*args))
        assert hash(Options(*args)) == hash(twin(*args))
    assert Options(1, uncompared=1) == Options(1, uncompared=2) and hash(Options(1, unhashed=1)) == hash(Options(1))
    assert Options(1).later == [7] and "later" in vars(Options(1)) and "fixed" not in vars(Options(1))
    assert Options(1).made is not Options(1).made
    assert dataclasses.fields(Options)[4].metadata["note"] is True
    assert str(inspect.signature(Options)) == str(inspect.signature(twin))
    with pytest.raises((ValueError, TypeError)) as refused:  # TypeError from Python 3.13
        dataclasses.replace(Options(1), later=[])
    with pytest.raises(refused.type):
        dataclasses.replace(twin(1), later=[])


def test_a_record_refuses_what_it_does_not_do():
    with pytest.raises(TypeError, match="non-default argument 'second'"):
        @record
        class Misordered:
            first: int = 0
            second: int
    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
        @record
        class Settable:
            value: int

            def __setattr__(self, name, value):
                pass


def test_a_subclass_that_is_not_a_record_may_add_attributes_but_not_change_fields():
    class Annotated(Known):
        pass

    fact = Annotated(1, "x")
    fact.note = "added"  # as with a frozen dataclass: only the dataclass's own instances refuse everything
    assert fact.note == "added"
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.value = 2


def test_the_hot_facts_stay_what_they_were():
    assert repr(Unavailable(Reason.TIMEOUT, "nvml")) == (
        "Unavailable(reason=<Reason.TIMEOUT: 'timeout'>, source='nvml', detail='')")
    assert Known(1, "x") == Known(1, "x") and {Known(1, "x"), Known(1, "x")} == {Known(1, "x")}
    assert Known(1, "x") != Known(1, "y") and Known(1, "x") != Unavailable(Reason.ERROR, "x")


# --- tuple_record: the class typing.NamedTuple makes ----------------------------------------------------

def _tuple_record_classes() -> List[type]:
    found = {}
    for name, module in list(sys.modules.items()):
        if name == "gpubal" or name.startswith("gpubal."):
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields")
                        and value.__module__ == name and _made_by_tuple_record(value)):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _made_by_tuple_record(cls: type) -> bool:
    """By its source: the class is the same as typing.NamedTuple's, which is the point."""
    try:
        return inspect.getsource(cls).lstrip().startswith("@tuple_record\n")
    except (OSError, TypeError):  # made by collections.namedtuple("Name", ...): no class statement
        return False


TUPLE_RECORDS = _tuple_record_classes()


def _named_tuple_twin(cls: type) -> type:
    """The class as `class Name(NamedTuple)` makes it from the same source lines."""
    source = textwrap.dedent(inspect.getsource(cls))
    assert source.startswith("@tuple_record\n"), source[:80]
    statement = source.replace("@tuple_record\n", "", 1).replace(
        f"class {cls.__name__}:", f"class {cls.__name__}(NamedTuple):", 1)
    namespace = dict(vars(sys.modules[cls.__module__]), NamedTuple=typing.NamedTuple)
    postponed = "from __future__ import annotations" in inspect.getsource(sys.modules[cls.__module__])
    exec(compile(statement, inspect.getsourcefile(cls), "exec", flags=ANNOTATIONS.compiler_flag if postponed else 0,
                 dont_inherit=True), namespace)
    return namespace[cls.__name__]


def test_tuple_records_are_found():
    assert {"CudaRelease", "DriverBranch", "GpuArch"} <= {cls.__qualname__ for cls in TUPLE_RECORDS}


@pytest.mark.parametrize("cls", TUPLE_RECORDS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_tuple_record_is_the_named_tuple_it_replaces(cls):
    twin = _named_tuple_twin(cls)
    assert (cls._fields, cls._field_defaults, cls.__doc__, cls.__module__, cls.__qualname__, cls.__bases__) == (
        twin._fields, twin._field_defaults, twin.__doc__, twin.__module__, twin.__qualname__, twin.__bases__)
    assert set(vars(cls)) == set(vars(twin))
    assert cls.__new__.__defaults__ == twin.__new__.__defaults__
    module = vars(sys.modules[cls.__module__])
    assert typing.get_type_hints(cls, module) == typing.get_type_hints(twin, module)
    required = [name for name in cls._fields if name not in cls._field_defaults]
    values = {name: ("a", number) for number, name in enumerate(required)}
    mine, theirs = cls(**values), twin(**values)
    assert (repr(mine), hash(mine), tuple(mine), mine == theirs) == (repr(theirs), hash(theirs), tuple(theirs), True)
    assert not hasattr(mine, "__dict__")
    assert mine._replace(**values) == mine and mine._asdict() == theirs._asdict()


def test_a_tuple_record_refuses_what_named_tuple_refuses():
    with pytest.raises(TypeError, match="Non-default namedtuple field second cannot follow default field first"):
        @tuple_record
        class Misordered:
            first: int = 0
            second: int
    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _asdict"):
        @tuple_record
        class Overwriting:
            value: int

            def _asdict(self):
                return {}


def test_a_field_may_have_any_name_the_init_uses_inside():
    @record
    class Shadowing:
        _set: int
        _FACTORY: int = 2
        made: List[int] = dataclasses.field(default_factory=list)

    assert repr(Shadowing(1)).endswith(".Shadowing(_set=1, _FACTORY=2, made=[])")
