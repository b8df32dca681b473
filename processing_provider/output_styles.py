"""Outputs loaded by Processing keep the QGIS style core writes beside them (class and cluster legends).

QGIS applies a raster's sidecar ``.qml`` when a layer is opened normally, but
Processing opens its result layers without default styles; a paletted class
raster would then show as plain bands. A layer post-processor puts the style back.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingContext, QgsProcessingLayerPostProcessorInterface


class SidecarStyle(QgsProcessingLayerPostProcessorInterface):
    """Loads the named ``.qml`` into the layer Processing has just added to the project."""

    # Processing keeps only a C++ pointer to a post-processor: Python must hold the object until the
    # layer is loaded, after the algorithm instance that created it may be gone. One per style file.
    _alive: dict[str, "SidecarStyle"] = {}

    def __init__(self, style: str) -> None:
        super().__init__()
        self.style = style

    @classmethod
    def for_file(cls, style: str) -> "SidecarStyle":
        cls._alive[style] = cls(style)
        return cls._alive[style]

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 - QGIS API
        message, loaded = layer.loadNamedStyle(self.style)
        if not loaded:
            feedback.pushInfo(f"The style {self.style} could not be applied: {message}")
        layer.triggerRepaint()


def keep_style_on_completion(context: QgsProcessingContext, layer_path: str) -> None:
    """If the runner will load ``layer_path``, style it with the ``.qml`` of the same name beside it."""
    style = Path(layer_path).with_suffix(".qml")
    if style.exists() and context.willLoadLayerOnCompletion(layer_path):
        context.layerToLoadOnCompletionDetails(layer_path).setPostProcessor(SidecarStyle.for_file(str(style)))
