"""Outputs loaded by Processing keep the QGIS style core writes beside them (class and cluster legends).

QGIS applies a raster's sidecar ``.qml`` when a layer is opened normally, but
Processing opens its result layers without default styles; a paletted class
raster would then show as plain bands. A layer post-processor puts the style back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from qgis.core import QgsProcessingContext, QgsProcessingLayerPostProcessorInterface

from ..adapters.output_layers import style_similarity


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Applies a styling function to the layer Processing has just added to the project."""

    # Processing keeps only a C++ pointer to a post-processor: Python must hold the object until the
    # layer is loaded, after the algorithm instance that created it may be gone. One per output file.
    _alive: dict[str, "StyleOnLoad"] = {}

    def __init__(self, apply: Callable) -> None:
        super().__init__()
        self.apply = apply

    @classmethod
    def attach(cls, context: QgsProcessingContext, layer_path: str, apply: Callable) -> None:
        """Style ``layer_path`` with ``apply(layer, feedback)`` if the runner will load it."""
        if context.willLoadLayerOnCompletion(layer_path):
            cls._alive[layer_path] = cls(apply)
            context.layerToLoadOnCompletionDetails(layer_path).setPostProcessor(cls._alive[layer_path])

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 - QGIS API
        self.apply(layer, feedback)
        layer.triggerRepaint()


def keep_style_on_completion(context: QgsProcessingContext, layer_path: str) -> None:
    """If the runner will load ``layer_path``, style it with the ``.qml`` of the same name beside it."""
    style = Path(layer_path).with_suffix(".qml")

    def load_sidecar(layer, feedback) -> None:
        message, loaded = layer.loadNamedStyle(str(style))
        if not loaded:
            feedback.pushInfo(f"The style {style} could not be applied: {message}")

    if style.exists():
        StyleOnLoad.attach(context, layer_path, load_sidecar)


def keep_similarity_style_on_completion(context: QgsProcessingContext, layer_path: str) -> None:
    """A loaded similarity map gets the same colour ramp as in the dock."""
    StyleOnLoad.attach(context, layer_path, lambda layer, feedback: style_similarity(layer))
