"""The paths by which each object of a PDF revision is reached, worked out once per object version.

pyHanko's difference analysis asks, for the revision before each incremental update, every path from
the trailer to every indirect object (``HistoricalResolver._load_reverse_xref_cache``): it reads and
copies every object of that revision again and walks the whole graph, so n revisions cost n full
readings of a growing file. Here one ``ReferencePaths`` per file keeps, for each object version (the
cross-reference section that defines it as seen from a revision), the references it holds with their
key paths inside the object; a revision's map is then a walk over those short lists, and an object
unchanged since the previous revision is not read or copied again.

The walk makes the same map as pyHanko's (the same rules: ``/Parent`` is not followed, nor ``/P``
inside the structure tree; a page tree node is entered only by its path through the page tree; a
structure element only from the structure tree; a reference is not followed again along one path),
and reads objects the same way, so read errors are pyHanko's own. Encrypted files keep pyHanko's walk.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath

_STRUCT_TREE = ("/Root", "/StructTreeRoot")  # its /K enters the structure tree
_Path = tuple[str | int, ...]
_Edge = tuple[_Path, generic.Reference, bool]  # key path inside the object, reference, in structure tree


class ReferencePaths:
    """Per file: which cross-reference section defines each object as seen from each revision, each
    object version read once, and the references each version holds (see the module docstring)."""

    def __init__(self, reader: PdfFileReader):
        self.reader = reader
        self._sections: dict[tuple[int, int], tuple[int, ...]] = {}
        self._versions: dict[tuple, object] = {}
        self._edges: dict[tuple, tuple[_Edge, ...]] = {}

    def release(self) -> None:
        """Forgets every object version read (see ``_ForgivingReader.release``)."""
        self._versions.clear()
        self._edges.clear()

    def paths(self, resolver: HistoricalResolver) -> Mapping[generic.Reference, set[RawPdfPath]]:
        """Every path from the trailer of ``resolver``'s revision to each indirect object, as pyHanko's
        ``_load_reverse_xref_cache`` makes it: {Reference: {RawPdfPath}} (each set made when asked
        for). Raises what reading raises."""
        walk, top = _Walk(self, resolver), []
        _collect_edges(resolver.trailer_view, (), False, _STRUCT_TREE, top)
        for rel, ref, in_struct in top:
            walk.visit(ref, rel, in_struct)
        return _PathSets(walk.collected)

    def version(self, ref, revision: int) -> int | None:
        """The newest cross-reference section up to ``revision`` that resolves ``ref`` (None: none)."""
        key = (ref.idnum, ref.generation)
        sections = self._sections.get(key)
        if sections is None:
            sections = self._sections[key] = tuple(_resolving_sections(self.reader, ref))
        index = bisect.bisect_right(sections, revision)
        return sections[index - 1] if index else None

    def read(self, ref, revision: int, **options):
        """``ref`` as ``revision`` sees it, as ``HistoricalResolver.get_object`` reads it before its copy:
        the reader's shared object when no later revision changes it, else the historical version,
        read once per file (pyHanko reads it again for each revision)."""
        version = self.version(ref, revision)
        if version is not None and version == self._sections[(ref.idnum, ref.generation)][-1]:
            return self.reader.get_object(ref, **options)
        if options.get("never_decrypt"):
            return PdfFileReader.get_object(self.reader, ref, revision, **options)
        # (transparent_decrypt only matters for encrypted files, which are not read here)
        key = (ref.idnum, ref.generation, version, bool(options.get("as_metadata_stream")))
        if key not in self._versions:
            self._versions[key] = PdfFileReader.get_object(self.reader, ref, revision, **options)
        return self._versions[key]

    def value(self, ref, revision: int):
        """The object ``ref`` at ``revision``, without the copy a HistoricalResolver makes."""
        return self.read(ref, revision, transparent_decrypt=False)

    def edges(self, ref, revision: int, in_struct: bool, trigger) -> tuple[_Edge, ...]:
        """The references held by ``ref`` as ``revision`` sees it, from its version's cache."""
        key = (ref.idnum, ref.generation, self.version(ref, revision), in_struct, trigger)
        found = self._edges.get(key)
        if found is None:
            value = self.value(ref, revision)
            found = []
            if not isinstance(value, generic.IndirectObject):  # a bare reference is not followed
                _collect_edges(value, (), in_struct, trigger, found)
            self._edges[key] = found = tuple(found)
        return found


class _PathSets(Mapping):
    """{Reference: {RawPdfPath}} from the walk's tuples, each set made when it is first asked for."""

    def __init__(self, collected: dict[generic.Reference, set[_Path]]):
        self._collected, self._made = collected, {}

    def __getitem__(self, ref):
        made = self._made.get(ref)
        if made is None:
            made = self._made[ref] = {RawPdfPath(*p) for p in self._collected[ref]}
        return made

    def __iter__(self):
        return iter(self._collected)

    def __len__(self):
        return len(self._collected)


class _Walk:
    """One revision's walk from its trailer, in pyHanko's order (depth first, keys and items in order)."""

    def __init__(self, paths: ReferencePaths, resolver: HistoricalResolver):
        self.paths, self.revision = paths, resolver.revision
        self.collected: dict[generic.Reference, set[_Path]] = defaultdict(set)
        self.on_path: set[generic.Reference] = set()
        deref = functools.partial(_deref, paths, resolver.revision)
        root = resolver.root
        self.page_tree = _page_tree(root, deref)
        self.struct_tree = _struct_tree(root, deref)

    def visit(self, ref: generic.Reference, path: _Path, in_struct: bool) -> None:
        if ref in self.on_path:
            return
        self.collected[ref].add(path)
        if self.page_tree.get(ref, path) != path or (not in_struct and ref in self.struct_tree):
            return
        trigger = _STRUCT_TREE[len(path) :] if _STRUCT_TREE[: len(path)] == path else None
        self.on_path.add(ref)
        for rel, child, child_in_struct in self.paths.edges(ref, self.revision, in_struct, trigger):
            self.visit(child, path + rel, child_in_struct)
        self.on_path.discard(ref)


def _collect_edges(value, path: _Path, in_struct: bool, trigger: _Path | None, found: list[_Edge]) -> None:
    """Appends the references inside one object's value with their key paths; ``trigger`` is the path
    inside the value (if any) of the dictionary whose /K enters the structure tree."""
    if isinstance(value, generic.IndirectObject):
        found.append((path, value.reference, in_struct))
    elif isinstance(value, generic.DictionaryObject):
        for key, item in value.items():
            if key == "/Parent" or (in_struct and key == "/P"):
                continue
            enters = in_struct or (key == "/K" and path == trigger)
            _collect_edges(item, (*path, key), enters, trigger, found)
    elif isinstance(value, generic.ArrayObject):
        for index, item in enumerate(value):
            _collect_edges(item, (*path, index), in_struct, trigger, found)


def _deref(paths: ReferencePaths, revision: int, value):
    """A value with an indirect reference read at ``revision`` (a dictionary's ``[key]`` and an
    object's ``get_object()`` as a HistoricalResolver answers them)."""
    return paths.value(value.reference, revision) if isinstance(value, generic.IndirectObject) else value


def _resolving_sections(reader: PdfFileReader, ref) -> Iterator[int]:
    for index in range(reader.xrefs.total_revisions):
        try:
            reader.xrefs.get_xref_data(index).try_resolve(ref)
        except KeyError:
            continue
        yield index


def _item(value, key, deref):
    """``value[key]`` as a HistoricalResolver's dictionary answers it."""
    return deref(value.raw_get(key)) if isinstance(value, generic.DictionaryObject) else value[key]


def _page_tree(root, deref) -> dict[generic.Reference, _Path]:
    """Each page tree node's path through the page tree (the only path by which the walk enters it)."""
    pages_ref = root.raw_get("/Pages")
    pages_path: _Path = ("/Root", "/Pages")
    nodes: dict[generic.Reference, _Path] = {}
    if isinstance(pages_ref, generic.IndirectObject):
        nodes[pages_ref.reference] = pages_path
    _page_kids(deref(pages_ref), pages_path, nodes, deref)
    return nodes


def _page_kids(pages, path: _Path, nodes: dict, deref) -> None:
    for index, kid in enumerate(_item(pages, "/Kids", deref)):
        kid_path = (*path, "/Kids", index)
        if isinstance(kid, generic.IndirectObject):
            if kid.reference in nodes:
                raise PdfReadError("Circular reference in page tree in mapping stage")
            nodes[kid.reference] = kid_path
        kid = deref(kid)
        if kid.get("/Type", None) == "/Pages":
            _page_kids(kid, kid_path, nodes, deref)


def _struct_tree(root, deref) -> set[generic.Reference]:
    """The structure elements reached through /K from the structure tree root; a missing entry on the
    way ends the collection with what was found (as pyHanko does)."""
    nodes: set[generic.Reference] = set()
    with contextlib.suppress(KeyError):
        _struct_kids(deref(root.raw_get("/StructTreeRoot")), nodes, deref)
    return nodes


def _struct_kids(element, nodes: set, deref) -> None:
    try:
        children = _item(element, "/K", deref)
    except KeyError:
        return
    for child in children if isinstance(children, generic.ArrayObject) else (children,):
        child_ref = None
        if isinstance(child, generic.IndirectObject):
            child_ref = child.reference
            child = deref(child)
        if not isinstance(child, generic.DictionaryObject):
            continue
        try:
            if _item(child, "/Type", deref) != "/StructElem":
                continue
        except KeyError:
            pass
        if child_ref is not None:
            if child_ref in nodes:
                raise PdfReadError("Circular reference in structure tree in mapping stage")
            nodes.add(child_ref)
        _struct_kids(child, nodes, deref)


def remember_history(xrefs) -> None:
    """Makes ``xrefs.get_introducing_revision`` and ``get_last_change`` (which scan every section on
    each call; the change analysis asks them for the same references in every revision) remember
    their answers for this file; a reference they do not know still raises KeyError each time."""
    for name in ("get_introducing_revision", "get_last_change"):
        setattr(xrefs, name, _remembered(getattr(xrefs, name)))


def _remembered(method):
    answers: dict[tuple[int, int], int] = {}

    def remembered(ref):
        key = (ref.idnum, ref.generation)
        found = answers.get(key)
        if found is None:
            found = answers[key] = method(ref)
        return found

    return remembered


class MappedResolver(HistoricalResolver):
    """pyHanko's view of one revision, its reference map made by the file's ``ReferencePaths``
    (``reader.reference_paths``) and its copies of objects made with one Reference per containing
    object instead of one per value; encrypted files (``not reader.plain``) keep pyHanko's own walk
    and copies."""

    def _load_reverse_xref_cache(self):
        if self._indirect_object_access_cache is not None:
            return
        if not self.reader.plain:
            super()._load_reverse_xref_cache()
            return
        self._indirect_object_access_cache = self.reader.reference_paths.paths(self)

    def _subsume_object(self, obj):
        if not self.reader.plain:
            return super()._subsume_object(obj)
        return _copy_into(self, obj, {})


def _copy_into(resolver: HistoricalResolver, obj, refs: dict):
    """pyHanko's ``_subsume_object`` for an unencrypted file: containers copied with their references
    bound to ``resolver`` (their container reference read, and failing, as pyHanko reads it)."""
    container = obj.get_container_ref()
    key = (container.idnum, container.generation)
    if isinstance(obj, generic.IndirectObject):
        return generic.IndirectObject(obj.idnum, obj.generation, resolver)
    if isinstance(obj, generic.StreamObject):
        items = {k: _copy_into(resolver, v, refs) for k, v in obj.items()}
        result = generic.StreamObject(items, encoded_data=obj.encoded_data)
    elif isinstance(obj, generic.DictionaryObject):
        result = generic.DictionaryObject({k: _copy_into(resolver, v, refs) for k, v in obj.items()})
    elif isinstance(obj, generic.ArrayObject):
        result = generic.ArrayObject(_copy_into(resolver, v, refs) for v in obj)
    else:
        return obj
    ref = refs.get(key)
    if ref is None:
        ref = refs[key] = generic.Reference(idnum=key[0], generation=key[1], pdf=resolver)
    result.container_ref = ref
    return result
