"""The change analysis of an incremental update that only adds one signed signature field, worked out
directly, with the verdict pyHanko's ``StandardDiffPolicy.apply`` gives it.

Stamping a document that is already signed writes an update of one shape: a new signature field
that is its own widget annotation, with its signature dictionary and appearance as new objects,
appended to ``/AcroForm /Fields`` and to one page's ``/Annots``; the document information dictionary
may be rewritten, and the revision has its cross-reference stream. pyHanko judges such an update
FORM_FILLING, the new field being the changed form field, after mapping every path to every object
of the revision before it (to find other uses of the objects rewritten), listing every field of both
revisions and walking every page: for a file of ten stamps, most of its change analysis.

``AddedFields.judge`` recognises that shape by checks each at least as strict as the pyHanko rule it
stands for, and then gives pyHanko's verdict, ``DiffResult(FORM_FILLING, {name})``:

- nothing freed, no object stream, no hybrid cross-reference section; the same ``/Root`` and
  ``/Info`` in both trailers, two different objects, and no other reference there; every object the
  cross-reference sections list as written resolves there; the information dictionary is neither
  the form dictionary nor the page;
- the objects rewritten are the form dictionary, one page and at most the information dictionary;
  no object of the revision before, reachable or not, refers to the catalog, the information
  dictionary or a cross-reference stream, and only the catalog's ``/AcroForm`` to the form
  dictionary (pyHanko clears a rewritten object's uses one by one; these are the ones it clears);
- the form dictionary differs only in ``/Fields`` and the page only in ``/Annots``, each a direct array
  that gains the new field at its end; the page is a leaf of the page tree, every page's
  ``/Annots`` is an array of references (pyHanko refuses any other, changed or not), and every root
  field of the revision before is a signature field with no ``/Kids`` and a partial name of its own
  (pyHanko reviews the appearance of other kinds of field on every update);
- every reference that an object of the revision before, or an object the update writes, holds
  names an object defined in its revision (pyHanko fails on a dangling one, and an object defined
  later would change what an older one shows); the rewritten objects are dictionaries, not streams,
  and no page tree node is met twice;
- the new field: ``/FT /Sig``, ``/Subtype /Widget``, a partial name of its own (no period), no
  ``/Kids``, ``/Parent``, ``/Lock`` or ``/SV``; its ``/V`` a new ``/Type /Sig`` dictionary without
  ``/Reference``;
- of the new objects, the rewritten ones refer to the field alone, and the field to others only
  through ``/V`` and ``/AP``; the signature dictionary refers to none. Whatever else is new is then
  reached from the appearance (cleared at FORM_FILLING, as ``collect_dependencies`` finds it) or from
  nothing rewritten (an orphan, cleared at LTA_UPDATES), and the verdict is the same either way.

Anything else, including an error while reading, gives None: the update is left to pyHanko. An
encrypted file and a DocMDP permission in force are also left to it (the caller's tests): visible
fields added after a certification are its to judge. tests/verify/test_pdf_added_field.py compares
both on every update of the files it makes and of the files other tools made.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel

_MAX_PAGE_TREE_DEPTH = 64
_MAX_USES = 16  # objects referring to watched ones kept per revision; past it, later ones are declined


class AddedFields:
    """The recogniser for one file; the references each object version holds are found once."""

    def __init__(self, reader: PdfFileReader):
        """``reader``: verify.pdf's reader, whose ``reference_paths`` reads each object version once."""
        self.reader, self.paths, self.xrefs = reader, reader.reference_paths, reader.xrefs
        self._refs: dict[tuple[int, int, int | None], tuple[generic.Reference, ...]] = {}
        self._uses: list[dict[generic.Reference, tuple[generic.Reference, ...]] | None] = []
        self._watched: set[generic.Reference] | None = None
        revisions = range(self.xrefs.total_revisions)
        self.streams = {self.xrefs.get_xref_container_info(r).stream_ref for r in revisions} - {None}

    def judge(self, revision: int) -> DiffResult | None:
        """pyHanko's verdict on revision ``revision`` (≥ 1) against the one before when it only adds
        one signed signature field (module docstring), else None. Raises nothing."""
        try:
            return _Update(self, revision).judge()
        except Exception:  # noqa: BLE001 - any surprise: pyHanko decides
            return None

    def read(self, ref: generic.Reference, revision: int):
        """``ref`` as ``revision`` sees it, not copied."""
        return self.paths.value(ref, revision)

    def uses(self, revision: int) -> dict[generic.Reference, tuple[generic.Reference, ...]]:
        """{object: the watched objects it refers to} over the objects ``revision`` defines (reachable
        or not) but its cross-reference streams, which are trailers. Watched are the catalogs,
        information and form dictionaries the trailers and catalogs of every revision name, and the
        cross-reference streams. Worked out revision after revision from the objects each one
        writes, each object version read once. Declines when an object was freed or more than
        ``_MAX_USES`` objects refer to watched ones."""
        while len(self._uses) <= revision:
            self._uses.append(self._next_uses(len(self._uses)))
        found = self._uses[revision]
        _need(found is not None)
        return found

    def _next_uses(self, revision: int):
        before = self._uses[-1] if revision else {}
        if before is None or self.xrefs.refs_freed_in_revision(revision):
            return None
        written = self.xrefs.explicit_refs_in_revision(revision) - self.streams
        found = {ref: targets for ref, targets in before.items() if ref not in written}
        watched = self._watched_objects()
        for ref in written:
            if self.paths.version(ref, revision) != revision or not self.resolved(ref, revision):
                return None
            targets = tuple(t for t in self.refs(ref, revision) if t in watched)
            if targets:
                found[ref] = targets
        return found if len(found) <= _MAX_USES else None  # (a stamp's shape has one: kept short)

    def resolved(self, ref: generic.Reference, revision: int) -> bool:
        """Every reference ``ref`` holds (as ``revision`` sees it) names an object that revision
        defines: pyHanko fails on one that does not, and an object defined later would change what
        an older one shows."""
        return all(self.paths.version(target, revision) is not None for target in self.refs(ref, revision))

    def _watched_objects(self) -> set[generic.Reference]:
        if self._watched is None:
            watched = set(self.streams)
            for revision in range(self.xrefs.total_revisions):
                trailer = self.reader.trailer.flatten(revision)
                watched |= {_ref(trailer.raw_get(k)) for k in ("/Root", "/Info") if k in trailer}
                form = _get(self.read(_ref(trailer.raw_get("/Root")), revision), "/AcroForm", None)
                if isinstance(form, generic.IndirectObject):
                    watched.add(form.reference)
            self._watched = watched
        return self._watched

    def refs(self, ref: generic.Reference, revision: int) -> tuple[generic.Reference, ...]:
        """The references ``ref`` holds as ``revision`` sees it."""
        key = (ref.idnum, ref.generation, self.paths.version(ref, revision))
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = tuple(_refs(self.read(ref, revision)))
        return found


class _Update:
    """Revision ``new`` against ``old`` = new - 1; each check raises _Declined."""

    def __init__(self, fields: AddedFields, revision: int):
        self.fields, self.read = fields, fields.read
        self.new, self.old = revision, revision - 1
        self.reader = fields.reader
        self.xrefs = self.reader.xrefs
        self.old_size = self.xrefs.get_xref_container_info(self.old).size

    def judge(self) -> DiffResult | None:
        try:
            name = self._check()
        except _Declined:
            return None
        return DiffResult(ModificationLevel.FORM_FILLING, {name})

    def _check(self) -> str:
        root, info = self._trailers()
        rewritten, new = self._written()
        form = _ref(_get(self.read(root, self.old), "/AcroForm"))
        pages = rewritten - {form, info}
        _need(form in rewritten and len(pages) == 1)
        (page,) = pages
        _need(info not in (root, form, page))  # (only the trailer may reach what is rewritten freely)
        field = self._appended(form, "/Fields")
        _need(self._appended(page, "/Annots") == field)
        for ref in rewritten:
            _need(set(self.fields.refs(ref, self.new)) & new <= (set() if ref == info else {field}))
            kinds = type(self.read(ref, self.old)), type(self.read(ref, self.new))
            _need(kinds == (generic.DictionaryObject, generic.DictionaryObject))  # (pyHanko refuses streams)
        _need(all(self.fields.resolved(ref, self.new) for ref in rewritten | new))
        name = self._new_field(field, new)
        self._page_tree(root, page)
        self._old_fields(form, name)
        self._only_uses(root, form, info)
        return name

    def _trailers(self) -> tuple[generic.Reference, generic.Reference | None]:
        """The catalog's and information dictionary's references, the same in both trailers, which
        hold no other reference."""
        found = []
        for revision in (self.old, self.new):
            trailer = self.reader.trailer.flatten(revision)
            root = _ref(trailer.raw_get("/Root"))
            info = _ref(trailer.raw_get("/Info")) if "/Info" in trailer else None
            _need(set(_refs(trailer)) <= {root, info})
            found.append((root, info))
        _need(found[0] == found[1])
        return found[0]

    def _written(self) -> tuple[set[generic.Reference], set[generic.Reference]]:
        """The objects the update rewrites and those it adds (its cross-reference stream left out)."""
        xrefs = self.xrefs
        _need(not xrefs.refs_freed_in_revision(self.new) and not xrefs.object_streams_used_in(self.new))
        for revision in (self.new, self.new + 1):
            if revision < xrefs.total_revisions:
                _need(xrefs.get_xref_data(revision).hybrid is None)
        written = set(xrefs.explicit_refs_in_revision(self.new))
        _need(all(self.fields.paths.version(ref, self.new) == self.new for ref in written))  # each one there
        stream = xrefs.get_xref_container_info(self.new).stream_ref
        if stream is not None:
            _need(stream.idnum >= self.old_size)
            written.discard(stream)
        new = {ref for ref in written if ref.idnum >= self.old_size}
        _need(all(self.xrefs.get_introducing_revision(ref) == self.new for ref in new))
        return written - new, new

    def _appended(self, ref: generic.Reference, key: str) -> generic.Reference:
        """The one reference the update appends to the direct array ``key`` of ``ref``, whose other
        entries it keeps as they were."""
        before, after = self.read(ref, self.old), self.read(ref, self.new)
        _need(type(before) is type(after) is generic.DictionaryObject)
        _need(set(after) - {key} == set(before) - {key})
        _need(all(before.raw_get(k) == after.raw_get(k) for k in before if k != key))
        old_items = before.raw_get(key) if key in before else generic.ArrayObject()
        new_items = after.raw_get(key)
        _need(isinstance(old_items, generic.ArrayObject) and isinstance(new_items, generic.ArrayObject))
        old_items, new_items = list(old_items), list(new_items)  # (the list's own items: not dereferenced)
        _need(len(new_items) == len(old_items) + 1 and new_items[:-1] == old_items)
        return _ref(new_items[-1])

    def _new_field(self, field: generic.Reference, new: set[generic.Reference]) -> str:
        """The new field's partial name, once the field and its value are of the shape recognised."""
        _need(field in new)
        value = self.read(field, self.new)
        _need(_get(value, "/FT", None) == "/Sig" and _get(value, "/Subtype", None) == "/Widget")
        _need(not {"/Kids", "/Parent", "/Lock", "/SV"} & set(value))
        name = _get(value, "/T", None)
        _need(isinstance(name, generic.TextStringObject) and "." not in name)
        signature = _ref(_get(value, "/V"))
        _need(signature in new)
        sig = self.read(signature, self.new)
        _need(_get(sig, "/Type", None) == "/Sig" and "/Reference" not in sig)
        _need(not set(self.fields.refs(signature, self.new)) & new)
        others = [value.raw_get(k) for k in value if k not in ("/AP", "/V")]
        _need(not {ref for other in others for ref in _refs(other)} & new)
        return name

    def _page_tree(self, root: generic.Reference, page: generic.Reference) -> None:
        """``page`` is a leaf of the page tree, whose every page's ``/Annots`` (in the update's
        revision) is absent or an array of references."""
        leaves = list(self._leaves(_ref(_get(self.read(root, self.old), "/Pages")), set(), set()))
        _need(page in leaves)
        for leaf in leaves:
            annots = _get(self.read(leaf, self.new), "/Annots", None)
            if isinstance(annots, generic.IndirectObject):
                annots = self.read(annots.reference, self.new)
            _need(annots is None or isinstance(annots, generic.ArrayObject))
            _need(all(isinstance(a, generic.IndirectObject) for a in list(annots or ())))

    def _leaves(self, node: generic.Reference, above: set, seen: set) -> Iterator[generic.Reference]:
        """The page tree's leaves under ``node``; declines a node met twice (pyHanko refuses it)."""
        _need(node not in seen and len(above) < _MAX_PAGE_TREE_DEPTH)
        seen.add(node)
        value = self.read(node, self.old)
        kind = _get(value, "/Type")
        if kind == "/Page":
            yield node
            return
        _need(kind == "/Pages")
        kids = _get(value, "/Kids")
        if isinstance(kids, generic.IndirectObject):
            kids = self.read(kids.reference, self.old)
        _need(isinstance(kids, generic.ArrayObject))
        for kid in list(kids):
            yield from self._leaves(_ref(kid), above | {node}, seen)

    def _old_fields(self, form: generic.Reference, name: str) -> None:
        """Each root field of the revision before: a signature field (pyHanko reviews the appearance
        of other kinds on every update), with no kids and a partial name of its own (not ``name``)."""
        names = {name}
        for item in list(_get(self.read(form, self.old), "/Fields")):
            value = self.read(_ref(item), self.old)
            _need(_get(value, "/FT", None) == "/Sig" and "/Kids" not in value)
            partial = _get(value, "/T", None)
            _need(isinstance(partial, generic.TextStringObject) and "." not in partial)
            _need(partial not in names)
            names.add(partial)

    def _only_uses(self, root: generic.Reference, form: generic.Reference, info) -> None:
        """No object of the revision before refers to the catalog, the information dictionary or a
        cross-reference stream (an old trailer), and only the catalog to the form dictionary, once
        (its ``/AcroForm``, which named it)."""
        watched = {root, form, info, *self.fields.streams} - {None}
        uses = self.fields.uses(self.old).items()
        seen = [(ref, target) for ref, targets in uses for target in targets if target in watched]
        _need(seen == [(root, form)])


class _Declined(Exception):
    """The update is not of the shape recognised here."""


def _need(condition: bool) -> None:
    if not condition:
        raise _Declined


_ABSENT = object()


def _get(value, key: str, default=_ABSENT):
    """``value[key]`` not dereferenced (``default`` when absent); declines a value not a dictionary."""
    _need(isinstance(value, generic.DictionaryObject))
    if key in value:
        return value.raw_get(key)
    _need(default is not _ABSENT)
    return default


def _ref(value) -> generic.Reference:
    _need(isinstance(value, generic.IndirectObject))
    return value.reference


def _refs(value) -> Iterator[generic.Reference]:
    """Every reference held in ``value`` and its direct containers (a stream's dictionary included)."""
    if isinstance(value, generic.IndirectObject):
        yield value.reference
    elif isinstance(value, generic.DictionaryObject):
        for key in value:
            yield from _refs(value.raw_get(key))
    elif isinstance(value, generic.ArrayObject):
        for item in list(value):  # (the list's own items: ArrayObject's indexing dereferences)
            yield from _refs(item)
