# test_parity.py — the Python package cannot drift from the C API: every field
# of include/vdds.h's option structs is an argument of Publisher/Subscriber,
# every field of its stats structs a key of stats(), the signatures are real
# (inspect.signature), help() names every argument, and the stubs agree.
import ast
import inspect
import pathlib
import pydoc
import re

import pytest

import vdds

REPO = pathlib.Path(__file__).resolve().parents[2]
HEADER = REPO / "include" / "vdds.h"
STUBS = REPO / "python" / "vdds" / "__init__.pyi"

# C fields whose Python argument has another name; group_access and group are
# one argument (group=gid turns group_access on), no_* are negated
PUB_RENAMED = {"slot_count": "slots", "no_service_thread": "service_thread",
               "group_access": "group"}
SUB_RENAMED = {"no_history": "history"}


def c_struct(name):
    """The fields of `struct name { ... };` in include/vdds.h, in order, with
    the comment after each (reserved vdds__ fields left out)."""
    text = HEADER.read_text()
    m = re.search(r"^struct " + name + r" \{\n(.*?)^\};", text, re.S | re.M)
    assert m, f"struct {name} not found in {HEADER}"
    comments = []

    def keep(c):
        comments.append(c.group(0))
        return f"@{len(comments) - 1}@"

    # each comment set aside as @n@, so that a declaration is `type name[n];`
    body = re.sub(r"/\*.*?\*/", keep, m.group(1), flags=re.S)
    fields = []
    for decl in re.finditer(r"([A-Za-z_][\w\s*]*?)\b(\w+)\s*(\[[^\]]*\])?;[ \t]*(?:@(\d+)@)?", body):
        if not decl.group(2).startswith("vdds__"):
            comment = comments[int(decl.group(4))] if decl.group(4) else ""
            fields.append((decl.group(2), comment))
    assert fields, f"no fields parsed from struct {name}"
    return fields


def python_names(fields, renamed):
    return {renamed.get(f, f) for f, _ in fields}


def options(cls):
    params = inspect.signature(cls).parameters
    assert next(iter(params)) == "topic"
    return {n for n in params if n != "topic"}


def test_every_publisher_option_of_C_is_a_Publisher_argument_and_no_other():
    assert options(vdds.Publisher) == python_names(c_struct("vdds_pub_opts"), PUB_RENAMED)


def test_every_subscriber_option_of_C_is_a_Subscriber_argument_and_no_other():
    c = python_names(c_struct("vdds_sub_opts"), SUB_RENAMED)
    assert options(vdds.Subscriber) == c
    assert options(vdds._vdds.Subscriber) == c


def test_the_C_defaults_the_header_states_are_Pythons():
    params = inspect.signature(vdds.Publisher).parameters
    stated = 0
    for field, comment in c_struct("vdds_pub_opts"):
        m = re.search(r"default (\d+)\b", comment)
        if m:
            assert params[PUB_RENAMED.get(field, field)].default == int(m.group(1)), field
            stated += 1
    assert stated >= 4  # slot_size, slot_count, max_subscribers, history
    # a C zero is Python's default for every other numeric option
    for name in ("type_size", "overflow"):
        assert params[name].default == 0
    sub = inspect.signature(vdds.Subscriber).parameters
    assert (sub["type_size"].default, sub["max_held"].default, sub["spin_ns"].default) == (0, 0, 0)
    assert sub["history"].default is True and sub["publisher_uid"].default is None


def test_the_Python_Subscriber_has_the_C_types_signature():
    assert inspect.signature(vdds.Subscriber) == inspect.signature(vdds._vdds.Subscriber)


def test_every_option_is_keyword_only_past_the_ones_C_never_changed():
    pub = inspect.signature(vdds.Publisher).parameters
    positional = [n for n, p in pub.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["topic", "slot_size", "slots"]
    sub = inspect.signature(vdds.Subscriber).parameters
    positional = [n for n, p in sub.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == ["topic"]


def test_every_stats_field_of_C_is_a_key_of_stats():
    # the parser itself, on fields known to exist since 0.1
    assert [f for f, _ in c_struct("vdds_sub_stats")] == ["taken", "lost", "held", "queued"]
    with vdds.Publisher("parity") as pub, vdds.Subscriber("parity") as sub:
        assert list(pub.stats()) == [f for f, _ in c_struct("vdds_pub_stats")]
        assert list(sub.stats()) == [f for f, _ in c_struct("vdds_sub_stats")]


def test_what_came_of_huge_pages_is_in_stats():
    with vdds.Publisher("normal") as pub:
        st = pub.stats()
    assert (st["huge_pages"], st["huge_pages_err"], st["huge_pages_note"]) == (False, 0, "not asked")
    with vdds.Publisher("huge", slot_size=1 << 20, slots=2, huge_pages=True) as pub:
        st = pub.stats()
        pub.write(b"x" * 100)
    assert isinstance(st["huge_pages"], bool) and st["huge_pages_note"]
    if st["huge_pages"]:
        assert st["huge_pages_err"] == 0 and "KiB pages" in st["huge_pages_note"]
    else:  # none reserved here: normal pages, and why
        assert st["huge_pages_err"] < 0 and st["huge_pages_note"] != "not asked"


def test_spin_ns_reaches_the_library():
    # a subscriber that spins still receives, and the option is range-checked
    with vdds.Publisher("spin") as pub, vdds.Subscriber("spin", spin_ns=200_000) as sub:
        pub.write(b"spun")
        assert bytes(sub.receive(timeout=5)) == b"spun"
    with pytest.raises(vdds.InvalidArgument):
        vdds.Subscriber("spin", spin_ns=-1)


@pytest.mark.parametrize("cls", [vdds.Publisher, vdds.Subscriber], ids=lambda c: c.__name__)
def test_help_names_every_argument_and_every_stats_key(cls):
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    for name in options(cls):
        assert re.search(r"\b" + name + r"\b", inspect.getdoc(cls) or ""), (cls, name)
        assert name in text
    struct = "vdds_pub_stats" if cls is vdds.Publisher else "vdds_sub_stats"
    for field, _ in c_struct(struct):
        assert re.search(r"\b" + field + r"\b", cls.stats.__doc__), (cls, field)


def stub_class(name):
    tree = ast.parse(STUBS.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"class {name} not in {STUBS}")


def stub_params(name):
    init = next(n for n in stub_class(name).body
                if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    a = init.args
    positional = [p.arg for p in a.args][1:]  # without self
    defaults = dict(zip(positional[len(positional) - len(a.defaults):], a.defaults))
    defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
    return positional, [p.arg for p in a.kwonlyargs], defaults


@pytest.mark.parametrize("cls", [vdds.Publisher, vdds.Subscriber], ids=lambda c: c.__name__)
def test_the_stubs_have_the_real_signature(cls):
    positional, keyword, defaults = stub_params(cls.__name__)
    sig = inspect.signature(cls).parameters
    assert positional == [n for n, p in sig.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert keyword == [n for n, p in sig.items() if p.kind is p.KEYWORD_ONLY]
    for name, node in defaults.items():
        if not (isinstance(node, ast.Constant) and node.value is Ellipsis):
            assert ast.literal_eval(node) == sig[name].default, name
    # and every other public name and method has its stub too
    tree = ast.parse(STUBS.read_text())
    stubbed = {n.name if not isinstance(n, ast.AnnAssign) else n.target.id for n in tree.body
               if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AnnAssign))}
    assert [n for n in vdds.__all__ if n not in stubbed] == []
    methods = {n.name for n in stub_class(cls.__name__).body
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    public = {n for n in dir(cls) if not n.startswith("_")}
    assert public - methods == set()


def test_the_package_is_a_consumer_that_includes_only_include():
    # issue 20: python/ builds against the public header like any consumer,
    # so it also builds against an installed vdds
    internal = {p.name for d in ("core", "notify") for p in (REPO / d).glob("*.h")}
    assert internal  # the repository's internal headers, to look for
    py = REPO / "python"
    for path in [*py.glob("src/*.[ch]"), *py.glob("tests/*.c")]:
        for inc in re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', path.read_text(), re.M):
            assert pathlib.PurePath(inc).name not in internal or inc == "vdds.h", (path, inc)
            assert not inc.startswith(("core/", "notify/", "../")), (path, inc)
    for build_file in ("setup.py", "CMakeLists.txt"):
        text = (py / build_file).read_text()
        code = "\n".join(line.split("#")[0] for line in text.splitlines())  # no comments
        assert not re.search(r"""["'/]\s*(core|notify)\b""", code), build_file


def test_topic_info_has_every_field_of_the_C_structs():
    with vdds.Publisher("asked"), vdds.Subscriber("asked"):
        info = vdds.topic_info("asked", timeout=5)
    assert list(info) == [f for f, _ in c_struct("vdds_topic_info")]
    assert list(info["subs"][0]) == [f for f, _ in c_struct("vdds_topic_sub")]
