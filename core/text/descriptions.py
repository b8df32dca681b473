"""POI descriptions: one sentence per POI built from its attribute fields.

The seed paper describes each POI by its class hierarchy ("A place of {class}, a
type of {category}", with retail and manufacturing variants) and optionally its name
(CaLLiPer+). Templates name the roles ``{class}``, ``{category}``, ``{name}`` or any
field by its own name; a part in square brackets is dropped when one of its
placeholders is empty, so a missing name never yields "called None".
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.places_schemas import CATEGORY, CLASS, NAME
from ..data.poi_io import NOT_CLASS_VALUES
from ..errors import FieldError, SettingsError

DEFAULT_TEMPLATE = "A place of {class}, a type of {category}"
CLASS_ONLY_TEMPLATE = "A place of {class}"
NAME_CLAUSE = "[, called {name}]"
RETAIL_TEMPLATE = "A place that sells {class}, a type of retail"
MANUFACTURING_TEMPLATE = "A place that produces {class}, a type of manufacturing"
# Category values (lower case) that get the paper's retail / manufacturing wording.
DEFAULT_CATEGORY_TEMPLATES = {
    "shop": RETAIL_TEMPLATE,
    "retail": RETAIL_TEMPLATE,
    "craft": MANUFACTURING_TEMPLATE,
    "manufacturing": MANUFACTURING_TEMPLATE,
}
# Overture / Foursquare places: "A pizza restaurant, a kind of restaurant (food and drink)". ``parent`` is the
# hierarchy level above the class (empty when that is the top level); a place known only by its top level
# (class = category) reads "A place of food and drink".
PLACES_TEMPLATE = "{article} {class}[, a kind of {parent}] ({category})"
TEMPLATE_STYLES = ("paper", "places")
ARTICLE = "article"
"""A placeholder computed from the class, not read from a field: 'A' or 'An'."""
_VOWEL_SOUNDING_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "ure")
MAX_VALUE_CHARS = 200
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


@dataclass
class TextFields:
    """Which attribute fields play the roles of the POI's class, category and name."""

    class_field: str
    category_field: str | None = None
    name_field: str | None = None


@dataclass
class TextTemplate:
    """How fields become a sentence. ``template=None`` picks the paper's default.

    ``include_name`` None appends the name whenever a name field is chosen (CaLLiPer+);
    training then drops the names again when they make too many distinct texts to encode.
    """

    template: str | None = None
    category_templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_TEMPLATES))
    include_name: bool | None = None
    style: str = "paper"
    """The default wording: the paper's ("A place of {class}, a type of {category}") or "places" (``PLACES_TEMPLATE``)."""

    def names_for(self, fields: TextFields) -> bool:
        """Whether names are appended for these fields."""
        return bool(fields.name_field) if self.include_name is None else self.include_name


@dataclass
class PoiTexts:
    """Distinct descriptions and, for every kept POI, the index of its description."""

    texts: list[str]
    text_index: np.ndarray
    kept: np.ndarray
    dropped: int
    class_from_category: int = 0
    """POIs whose class value was no class (``yes``, empty, ...) and were described by their category."""

    @property
    def n_pois(self) -> int:
        return int(self.text_index.shape[0])


def clean_value(value: object) -> str:
    """A field value as readable text: '' for nulls, underscores as spaces, bounded length."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    text = " ".join(str(value).replace("_", " ").split())
    return text[:MAX_VALUE_CHARS]


def indefinite_article(text: str) -> str:
    """'An' before a vowel sound ("An italian restaurant"), else 'A'; by the first letters, as most style guides."""
    lower = text.lower()
    return "An" if lower[:1] in ("a", "e", "i", "o", "u") and not lower.startswith(_VOWEL_SOUNDING_EXCEPTIONS) else "A"


def places_description(template: str | None = None, include_name: bool | None = None) -> tuple[TextFields, TextTemplate]:
    """The fields and wording of an Overture or Foursquare file as ``data.places_schemas`` flattens it."""
    return TextFields(CLASS, CATEGORY, NAME), TextTemplate(template=template, include_name=include_name, style="places")


def placeholders(template: str) -> list[str]:
    """Names used in a template, in order of first appearance; a template Python cannot read is refused."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template.replace("[", "").replace("]", "")) if name]
    except ValueError as exc:
        raise template_error(template, str(exc)) from exc
    return list(dict.fromkeys(names))


def template_error(template: str, problem: str) -> SettingsError:
    return SettingsError(
        f"The description template '{template[:80]}' cannot be used ({problem}). Write field names in braces, "
        "e.g. 'A place of {class}[, called {name}]', and double a brace to write one: {{ }}."
    )


def check_template(template: str) -> None:
    """Refuse a template that would fail when filled (a positional {0}, a format spec, an unclosed brace)."""
    names = placeholders(template)
    if any(name.isdigit() or not name.isidentifier() for name in names):
        bad = next(name for name in names if name.isdigit() or not name.isidentifier())
        raise template_error(template, f"'{{{bad}}}' is not a field name")
    try:
        fill_template(template, {name: "x" for name in names})
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise template_error(template, str(exc)) from exc


def required_placeholders(template: str) -> list[str]:
    """Placeholders outside optional [...] parts: a POI without them has no description."""
    return placeholders(_OPTIONAL.sub("", template))


def fill_template(template: str, values: dict[str, str]) -> str:
    """Fill a template; optional parts with an empty placeholder are removed."""

    def optional(match: re.Match[str]) -> str:
        part = match.group(1)
        if not all(values.get(n) for n in placeholders(part)):
            return ""
        # the filled part is formatted once more with the rest: braces in a value must stay text
        return part.format_map(values).replace("{", "{{").replace("}", "}}")

    return " ".join(_OPTIONAL.sub(optional, template).format_map(values).split())


def _effective_templates(fields: TextFields, settings: TextTemplate) -> tuple[str, dict[str, str], str | None]:
    """The base template, the per-category ones, and the one for a POI whose class is its category."""
    if settings.style not in TEMPLATE_STYLES:
        raise SettingsError(f"The description style is {' or '.join(TEMPLATE_STYLES)} (got {settings.style!r}).")
    if settings.template is not None:
        return settings.template, {}, None
    places = settings.style == "places" and fields.category_field
    base = PLACES_TEMPLATE if places else DEFAULT_TEMPLATE if fields.category_field else CLASS_ONLY_TEMPLATE
    by_category = dict(settings.category_templates) if fields.category_field and not places else {}
    # "A place of shop", not "A place that sells shop, a type of retail"
    same_as_category = CLASS_ONLY_TEMPLATE if fields.category_field else None
    if settings.names_for(fields):
        base += NAME_CLAUSE
        by_category = {key: value + NAME_CLAUSE for key, value in by_category.items()}
        same_as_category = same_as_category and same_as_category + NAME_CLAUSE
    return base, by_category, same_as_category


def poi_classes(attributes: pd.DataFrame, fields: TextFields) -> tuple[pd.Series, np.ndarray]:
    """Each POI's class value, and where it was no class (``yes``, ``1``, empty) and its category stands in.

    OSM tags a shop of unknown kind ``shop=yes``: "A place of yes" would teach the model a
    word that means nothing, so such a POI is described (and counted) by its category.
    """
    classes = attributes[fields.class_field]
    if not fields.category_field or fields.category_field not in attributes.columns:
        return classes, np.zeros(len(classes), dtype=bool)
    category = attributes[fields.category_field]
    no_class = classes.map(clean_value).str.lower().isin(NOT_CLASS_VALUES).to_numpy(dtype=bool)
    stands_in = no_class & (category.map(clean_value) != "").to_numpy(dtype=bool)
    return classes.where(~stands_in, category), stands_in


def _role_columns(attributes: pd.DataFrame, fields: TextFields, names: list[str], layer: str) -> dict[str, str]:
    roles = {"class": fields.class_field, "category": fields.category_field, "name": fields.name_field}
    columns = {}
    for name in names:
        if name == ARTICLE and ARTICLE not in attributes.columns:
            continue  # computed from the class
        column = roles.get(name, name)
        if column is None:
            raise FieldError(f"The template uses {{{name}}} but no {name} field was chosen for {layer}.")
        if column not in attributes.columns:
            raise FieldError(
                f"The field '{column}' is not in {layer}. "
                f"Available fields: {', '.join(map(str, attributes.columns))}."
            )
        columns[name] = column
    return columns


def empty_field_error(column: str, layer: str) -> FieldError:
    return FieldError(
        f"The field '{column}' of {layer} is empty for every feature. Choose a field that describes the POIs."
    )


def build_texts(
    attributes: pd.DataFrame,
    fields: TextFields,
    settings: TextTemplate | None = None,
    layer: str = "the POI layer",
    require_values: bool = True,
) -> PoiTexts:
    """Describe every POI; drop (and count) those whose required fields are empty.

    ``require_values=False`` is for one chunk of a file: an all-empty chunk is all dropped,
    and the caller judges the whole file.
    """
    settings = settings or TextTemplate()
    base, by_category, same_as_category = _effective_templates(fields, settings)
    for template in (base, *by_category.values()):
        check_template(template)
    used = placeholders(base)
    for template in by_category.values():
        used += [n for n in placeholders(template) if n not in used]
    if "category" not in used and fields.category_field:
        used.append("category")  # needed to pick the per-category template
    if ARTICLE in used and "class" not in used:
        used.append("class")  # the article is the class's
    columns = _role_columns(attributes, fields, used, layer)
    if len(attributes) == 0:  # an empty table or chunk: nothing to describe (MultiIndex cannot factorize it)
        return PoiTexts(texts=[], text_index=np.zeros(0, dtype=np.int64), kept=np.zeros(0, dtype=bool), dropped=0)
    values = pd.DataFrame({name: attributes[column].map(clean_value) for name, column in columns.items()})
    for name in required_placeholders(base):  # judged on the field itself: an empty class field is a wrong choice
        if require_values and name in columns and not (values[name] != "").any():
            raise empty_field_error(columns[name], layer)
    classes, stands_in = poi_classes(attributes, fields)
    if "class" in values.columns:
        values["class"] = classes.map(clean_value)
    if ARTICLE in used and ARTICLE not in columns:
        values[ARTICLE] = values["class"].map(indefinite_article)
    if values.columns.empty:  # a template without placeholders: one description for every POI
        values = pd.DataFrame({"_": np.zeros(len(attributes), dtype=np.int8)}, index=attributes.index)
    codes, combos = pd.MultiIndex.from_frame(values).factorize()
    texts_per_combo = []
    for combo in combos:
        row = dict(zip(values.columns, combo))
        category = row.get("category", "")
        template = by_category.get(category.lower(), base)
        if same_as_category and category and row.get("class") == category:
            template = same_as_category
        complete = all(row[n] for n in required_placeholders(template))
        texts_per_combo.append(fill_template(template, row) if complete else "")
    row_texts = np.asarray(texts_per_combo, dtype=object)[codes]
    kept = row_texts != ""
    text_codes, distinct = pd.factorize(pd.Series(row_texts[kept]))
    return PoiTexts(
        texts=[str(text) for text in distinct],
        text_index=text_codes.astype(np.int64),
        kept=kept,
        dropped=int((~kept).sum()),
        class_from_category=int(stands_in.sum()),
    )
