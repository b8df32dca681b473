"""The words a profile is made of: a model's POI classes, the classes two models share, or a user's phrases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputDataError, ModelFileError
from ..maps.clusters import class_descriptions
from ..maps.describe import model_evidence
from ..model.files import LoadedModel

SHOWN_CLASSES = 8


@dataclass
class Vocabulary:
    """``labels`` name the profile's bands and fields; ``texts`` are what the text encoder reads for each."""

    labels: list[str]
    texts: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def read_phrase_file(path: str | Path, what: str = "phrase file") -> list[str]:
    """The phrases of a UTF-8 text file, one per line, blanks and repeats left out; refused when there are none."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"The {what} {path} does not exist.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputDataError(f"The {what} {path} is not UTF-8 text.") from exc
    phrases = list(dict.fromkeys(" ".join(line.split()) for line in lines if line.strip()))
    if not phrases:
        raise InputDataError(f"The {what} {path} has no phrases: write one phrase per line.")
    return phrases


def phrase_vocabulary(path: str | Path) -> Vocabulary:
    """A user's vocabulary file: each phrase is its own label."""
    phrases = read_phrase_file(path, "vocabulary file")
    return Vocabulary(phrases, phrases, f"the {len(phrases)} phrases of {Path(path).name}")


def model_classes(model: LoadedModel) -> list[str]:
    """The POI classes a model was trained on (from its evidence), sorted by name."""
    return sorted(set(model_evidence(model, "compare its profiles, or give a vocabulary file").classes))


def class_vocabulary(classes: list[str], source: str) -> Vocabulary:
    return Vocabulary(list(classes), class_descriptions(list(classes)), source)


def model_vocabulary(model: LoadedModel) -> Vocabulary:
    """The model's own class descriptions ("A place of cafe"), labelled by class."""
    classes = model_classes(model)
    return class_vocabulary(classes, f"the {len(classes)} POI classes of the model")


def _shown(names: list[str]) -> str:
    more = len(names) - SHOWN_CLASSES
    return ", ".join(names[:SHOWN_CLASSES]) + (f" and {more} more" if more > 0 else "")


def check_same_text_encoder(first: LoadedModel, second: LoadedModel) -> None:
    """Profiles compare only between models that read words with the same text encoder."""
    if first.card.text_model != second.card.text_model:
        raise ModelFileError(
            f"The models use different text encoders ({first.card.text_model} in {first.folder}, "
            f"{second.card.text_model} in {second.folder}), so their profiles cannot be compared. "
            "Train both with the same text model."
        )


def shared_poi_classes(first: LoadedModel, second: LoadedModel) -> list[str]:
    """The POI classes both models were trained on, sorted by name (maybe none)."""
    return sorted(set(model_classes(first)) & set(model_classes(second)))


def shared_vocabulary(first: LoadedModel, second: LoadedModel) -> Vocabulary:
    """The POI classes both models were trained on; refused when they share none."""
    check_same_text_encoder(first, second)
    shared = shared_poi_classes(first, second)
    if not shared:
        a, b = model_classes(first), model_classes(second)
        raise InputDataError(
            f"The two models share no POI class (the model in {first.folder} has {_shown(a)}; the one in "
            f"{second.folder} has {_shown(b)}). Give a vocabulary file of phrases that describe both cities."
        )
    return class_vocabulary(shared, f"the {len(shared)} POI classes both models were trained on")


def comparison_vocabulary(source: LoadedModel, target: LoadedModel, vocabulary: Vocabulary | None) -> Vocabulary:
    """A user's vocabulary (the models must share a text encoder), else the POI classes both models know."""
    if vocabulary is None:
        return shared_vocabulary(source, target)
    check_same_text_encoder(source, target)
    return vocabulary
