"""Object proxies: the classic _MemObjectProxy behaviours, written against
small dumps instead of a hand-filled MemObjectCollection."""
from __future__ import annotations

from typing import Dict, List, Sequence

import pytest

from meliae import loader


def line(address: int, type_str: str, size: int, refs: Sequence[int] = (),
         value: object = None, name: str = "") -> str:
    parts = ['{"address": %d, "type": "%s", "size": %d' % (address, type_str, size)]
    if name:
        parts.append(', "name": "%s"' % name)
    if isinstance(value, str):
        parts.append(', "value": "%s"' % value)
    elif value is not None:
        parts.append(', "value": %d' % value)
    parts.append(', "refs": [%s]}' % ", ".join(str(r) for r in refs))
    return "".join(parts)


def build(objs: List[str], **kw: object) -> loader.ObjManager:
    kw.setdefault("collapse", False)
    return loader.load(objs, show_prog=False, **kw)  # type: ignore[arg-type]


# The classic proxy fixture: 0 'foo' (100 B) and 255 'baz' (300 B), with 1024
# 'bar' (200 B) added and deleted.  A deletion is what collapsing does, so
# 1024 is a dict folded into an owner here.
@pytest.fixture
def moc() -> loader.ObjManager:
    return build([
        line(7, "Owner", 10, [1024, 8]),
        line(1024, "dict", 200, []),
        line(8, "type", 50, []),
        line(0, "foo", 100),
        line(255, "baz", 300),
    ])


def test_basic_proxy() -> None:
    om = build([line(0, "foo", 100)])
    mop = om[0]
    assert (mop.address, mop.type_str, mop.size, len(mop)) == (0, "foo", 100, 0)
    mop.size = 1024
    assert om[0].size == 1024
    assert om[0] is mop


def test_missing_address() -> None:
    om = build([line(0, "foo", 100)])
    with pytest.raises(KeyError) as info:
        om[999]
    assert info.value.args[0] == "address 999 not present"
    assert 999 not in om.objs
    assert om.objs.get(999) is None
    assert om.objs.get(0) is om[0]


def test_value_and_type_str_are_writable() -> None:
    om = build([line(0, "foo", 100), line(1, "str", 50, value="x")])
    mop = om[0]
    assert mop.value is None
    mop.value = "a value"
    assert om[0].value == "a value"
    mop.value = 12345
    assert mop.value == 12345
    mop.value = None
    assert mop.value is None
    mop.type_str = "bar"
    assert om[0].type_str == "bar"
    assert om.get_all("bar") == [mop]
    assert om.get_all("foo") == []


def test_name_is_the_value() -> None:
    om = build([line(3, "module", 60, name="the name")])
    assert om[3].value == "the name"


def test_children_get_and_set() -> None:
    om = build([line(1, "list", 64, [2, 3, 4]), line(2, "a", 1), line(3, "b", 1),
                line(4, "c", 1)])
    mop = om[1]
    assert mop.children == [2, 3, 4]
    assert len(mop) == 3
    mop.children = [4, 2]
    assert mop.children == [4, 2]
    assert len(mop) == 2
    assert [c.type_str for c in mop.c] == ["c", "a"]
    om[2].children = []
    assert om[2].children == ()


def test_c_and_p() -> None:
    om = build([line(1, "tuple", 40, [0, 255]), line(0, "foo", 100), line(255, "baz", 300)])
    assert om[0].c == []
    assert [o.address for o in om[1].c] == [0, 255]
    assert om[0].p == []
    om.compute_parents()
    assert om[0].p == [om[1]]
    assert om[0].num_parents == 1


def test_c_with_dangling_child_raises_key_error() -> None:
    om = build([line(1, "tuple", 40, [0, 999]), line(0, "foo", 100)])
    assert om[1].children == [0, 999]
    with pytest.raises(KeyError, match="address 999 not present"):
        om[1].c
    with pytest.raises(KeyError):
        list(om[1])
    assert om[1][0] is om[0]


def test_deprecated_attributes() -> None:
    om = build([line(1, "tuple", 40, [0, 255]), line(0, "foo", 100), line(255, "baz", 300)])
    om.compute_parents()
    mop = om[1]
    cases = [
        (lambda: mop.num_refs, 2, "Attribute .num_refs deprecated. Use len() instead."),
        (lambda: mop.ref_list, [0, 255], "Attribute .ref_list deprecated. Use .children instead."),
        (lambda: om[0].referrers, [1], "Attribute .referrers deprecated. Use .parents instead."),
        (lambda: om[0].num_referrers, 1,
         "Attribute .num_referrers deprecated. Use .num_parents instead."),
    ]
    for get, expected, message in cases:
        with pytest.warns(DeprecationWarning) as record:
            assert get() == expected
        assert [str(w.message) for w in record] == [message]
    with pytest.warns(DeprecationWarning, match="ref_list deprecated"):
        mop.ref_list = [255]
    assert mop.children == [255]


def test_getitem() -> None:
    om = build([line(1, "tuple", 40, [0, 255]), line(0, "foo", 100), line(255, "baz", 300)])
    mop = om[1]
    assert len(mop) == 2
    assert list(mop) == [mop[0], mop[1]]
    assert [mop[0].type_str, mop[1].type_str] == ["foo", "baz"]
    assert mop[-2] is mop[0]
    assert mop[-1] is mop[1]


def test_getitem_errors() -> None:
    om = build([line(1, "tuple", 40, [0, 255]), line(0, "foo", 100), line(255, "baz", 300)])
    mop = om[1]
    with pytest.raises(IndexError) as info:
        mop[2]
    assert str(info.value) == "%s has only 2 (not 3) references" % (mop,)
    with pytest.raises(IndexError) as info:
        mop[-3]
    assert str(info.value) == "ref index -3 out of range"
    with pytest.raises(IndexError) as info:
        om[0][0]
    assert str(info.value) == "%s has no references" % (om[0],)


def test_total_size_attribute() -> None:
    om = build([line(0, "foo", 100)])
    mop = om[0]
    assert mop.total_size == 0
    mop.total_size = 10245678
    assert mop.total_size == 10245678
    mop.total_size = 2 ** 31 + 1
    assert om[0].total_size == 2 ** 31 + 1


def test_repr() -> None:
    om = build([
        line(1234, "str", 24),
        line(1235, "tuple", 12, [1234, 1236]),
        line(1236, "module", 12, [1234, 1239], name="named"),
        line(1237, "x", 4, [1238]),
        line(1238, "foo", 12, [1234]),
        line(1239, "str", 24, value="teststr"),
        line(1240, "int", 12, value=12345),
        line(1241, "bool", 28, value="True"),
        line(1242, "y", 4, [1238]),
    ])
    om.compute_parents()
    assert repr(om[1234]) == "str(1234 24B 3par)"
    assert repr(om[1235]) == "tuple(1235 12B 2refs)"
    assert repr(om[1236]) == "module(1236 12B 2refs 1par 'named')"
    assert repr(om[1238]) == "foo(1238 12B 1refs 2par)"
    assert repr(om[1239]) == "str(1239 24B 1par 'teststr')"
    assert repr(om[1241]) == "bool(1241 28B True)"
    obj = om[1240]
    assert repr(obj) == "int(1240 12B 12345)"
    obj.total_size = 12
    assert repr(obj) == "int(1240 12B 12345 12.0Btot)"
    obj.total_size = 1024
    assert repr(obj) == "int(1240 12B 12345 1.0Ktot)"
    obj.total_size = int(10.5 * 1024 * 1024)
    assert repr(obj) == "int(1240 12B 12345 10.5Mtot)"
    obj.total_size = 800
    assert repr(obj) == "int(1240 12B 12345 800.0Btot)"
    obj.total_size = 801
    assert repr(obj) == "int(1240 12B 12345 0.8Ktot)"


def test_refs_as_dict() -> None:
    om = build([
        line(1, "str", 25, value="a"),
        line(2, "int", 12, value=1),
        line(3, "dict", 140, [1, 2]),
        line(4, "MyClass", 32, [2, 1, 8]),
        line(8, "type", 400, name="MyClass"),
        line(9, "frame", 400, value="func"),
        line(10, "dict", 140, [1, 9]),
    ])
    assert om[3].refs_as_dict() == {"a": 1}
    # odd count on a non-dict: the trailing (type) reference is dropped
    assert om[4].refs_as_dict() == {1: "a"}
    # a frame's value (its code name) is not a Python value: the proxy stays
    assert om[10].refs_as_dict() == {"a": om[9]}


def test_refs_as_dict_later_keys_win() -> None:
    om = build([line(1, "str", 25, value="k"), line(2, "int", 12, value=1),
                line(3, "int", 12, value=2), line(4, "dict", 140, [1, 2, 1, 3])])
    assert om[4].refs_as_dict() == {"k": 2}


def test_compute_total_size_chain() -> None:
    om = build([line(2, "a", 4567, [1]), line(1, "b", 1234, [0]), line(0, "c", 100)])
    assert om[2].compute_total_size() == 4567 + 1234 + 100 == 5901
    assert om[2].total_size == 5901
    assert om[2].compute_total_size(excluding=[0]) == 5801


def test_all() -> None:
    om = build([line(2, "bar", 10, [1, 0]), line(1, "foo", 200, [0]), line(0, "foo", 100)])
    assert [o.address for o in om[2].all("foo")] == [1, 0]
    assert [o.address for o in om[2].all("foo", excluding=[0])] == [1]
    assert [o.address for o in om[2].all("foo", excluding=[1])] == [0]
    assert om[0].all("foo", excluding=[0]) == []


def _walk(om: loader.ObjManager, start: int, excluding: object = None) -> List[int]:
    return [o.address for o in om[start].iter_recursive_refs(excluding=excluding)]


BASE = [line(1024, "bar", 200), line(0, "foo", 100), line(255, "baz", 300)]


def test_iter_recursive_refs_no_refs() -> None:
    assert _walk(build(BASE), 1024) == [1024]


def test_iter_recursive_refs_single_depth() -> None:
    assert _walk(build(BASE + [line(1, "x", 1, [1024])]), 1) == [1, 1024]


def test_iter_recursive_refs_deep_chain() -> None:
    om = build([line(a, "x", 1, [a + 1] if a < 6 else []) for a in range(1, 7)])
    assert _walk(om, 1) == [1, 2, 3, 4, 5, 6]


def test_iter_recursive_refs_self_referenced() -> None:
    om = build(BASE + [line(1, "x", 1, [1024, 2]), line(2, "y", 1, [1])])
    # LIFO: the last child (2) is visited next, then 1024
    assert _walk(om, 1) == [1, 2, 1024]


def test_iter_recursive_refs_excluding() -> None:
    om = build(BASE + [line(1, "x", 1, [1024])])
    assert _walk(om, 1, excluding=[1024]) == [1]


def test_iter_recursive_refs_excluding_nested() -> None:
    om = build(BASE + [line(1, "x", 1, [1024]), line(2, "y", 1, [1])])
    assert _walk(om, 2, excluding=[1]) == [2]


def test_iter_recursive_refs_wraparound() -> None:
    om = build(BASE + [line(3, "z", 1, [1, 2]), line(1, "x", 1, [1024]),
                       line(2, "y", 1, [1024])])
    assert _walk(om, 3) == [3, 2, 1024, 1]
    assert _walk(om, 3, excluding=[1]) == [3, 2, 1024]
    assert _walk(om, 3, excluding=(o.address for o in om[1].iter_recursive_refs())) == [3, 2]


def test_iter_recursive_refs_excluding_self() -> None:
    om = build(BASE + [line(1, "x", 1, [1024])])
    assert _walk(om, 1, excluding=[1]) == []


def test_iter_recursive_refs_skips_dangling() -> None:
    om = build([line(1, "x", 10, [999, 2]), line(2, "y", 5)])
    assert _walk(om, 1) == [1, 2]
    assert om[1].compute_total_size() == 15


def test_objs_mapping_view(moc: loader.ObjManager) -> None:
    moc.collapse_instance_dicts()
    keys = moc.objs.keys()
    # file order, without the folded dict 1024
    assert keys == [7, 8, 0, 255]
    assert list(moc.objs) == keys
    assert [a for a, _ in moc.objs.items()] == keys
    assert [o.address for o in moc.objs.values()] == keys
    assert len(moc.objs) == 4 == len(moc)
    assert moc.objs[moc[0]] is moc[0]


def test_deleted_proxy_keeps_working(moc: loader.ObjManager) -> None:
    folded = moc[1024]
    assert moc.collapse_instance_dicts() == 1
    assert 1024 not in moc.objs
    assert (folded.address, folded.type_str, folded.size, len(folded)) == (1024, "dict", 200, 0)
    assert moc[7].size == 10 + 200
    assert moc[7].children == [8]


def test_proxies_are_cached() -> None:
    om = build(BASE)
    assert om[0] is om[0]
    assert om.objs[255] is om[255]
    assert [o for o in om.objs.values() if o.address == 1024][0] is om[1024]


def test_values_by_kind() -> None:
    om = build([line(1, "str", 60, value="v"), line(2, "int", 28, value=-5),
                line(3, "bool", 28, value="False"), line(4, "object", 16)])
    values: Dict[int, object] = {a: om[a].value for a in (1, 2, 3, 4)}
    assert values == {1: "v", 2: -5, 3: False, 4: None}
    assert type(values[3]) is bool


def test_get_all_follows_written_sizes_and_types() -> None:
    om = build([line(a, "T", 10, list(range(1, a % 3 + 1))) for a in range(1, 9)])
    om.compute_parents()
    om[5].size = 99
    om[2].type_str = "U"
    om[7].type_str = "\udc80odd"
    rest = [om[a] for a in (1, 3, 4, 5, 6, 8)]
    want = sorted(rest, key=lambda o: (o.size, len(o), o.num_parents), reverse=True)
    assert om.get_all("T") == want
    assert om.get_all("U") == [om[2]]
    assert om.get_all("\udc80odd") == [om[7]]
    assert om[7].type_str == "\udc80odd"


def test_size_must_fit_in_64_bits() -> None:
    om = build([line(1, "T", 10)])
    with pytest.raises(OverflowError):
        om[1].size = -1
    with pytest.raises(OverflowError):
        om[1].size = 1 << 64
    assert om[1].size == 10
    om[1].size = (1 << 64) - 1
    assert om[1].size == (1 << 64) - 1
