"""What every Calliper algorithm tells QGIS about itself, declared once as class attributes."""

from __future__ import annotations

from typing import ClassVar

from qgis.core import QgsProcessingAlgorithm

from ..adapters.help_pages import page_url, processing_page

GROUPS = {"model": "Model", "maps": "Maps", "landuse": "Land use and values"}

# Help for parameters that mean the same in every algorithm that has them (shown as their tooltip).
SHARED_PARAMETER_HELP = {
    "MODEL": "A model folder that Calliper wrote (model.safetensors + card.json): train one with 'Train model'.",
    "EMBEDDING": "An embedding raster made with 'Embedding raster' by the same model.",
    "EXTENT": "The area to map, in any CRS (it is reprojected to the model's).",
    "PIXEL_SIZE": "In metres. Halving it makes four times as many pixels to compute.",
    "NEAR_POIS": ("Pixels farther than this from every training POI stay empty (nodata), so the map shows only "
                  "where the model has evidence. 0 chooses it from the POIs' spacing."),
    "WHOLE_EXTENT": "Compute every pixel, also far from the training POIs (over the sea, fields, forests).",
    "VOCABULARY": "A text file of phrases, one per line, to compare places over instead of the POI classes.",
    "SPLIT": ("spatial: whole blocks are held out for the test, the honest score for a map; random: single "
              "units, which scores higher because neighbours look alike."),
    "BLOCK_SIZE": "The side of the square blocks held out together, in metres.",
    "PROBE": "linear: a logistic / ridge regression on the features (the default); mlp: a small neural network.",
    "SEEDS": "One run per seed; the scores are the mean and standard deviation over the runs.",
}


class CalliperAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set ``ALGORITHM_ID``, ``TITLE``, ``GROUP_ID`` (a key of ``GROUPS``) and ``HELP``.

    ``PARAMETER_HELP`` (parameter name -> text) adds to or overrides ``SHARED_PARAMETER_HELP``.
    """

    ALGORITHM_ID: ClassVar[str]
    TITLE: ClassVar[str]
    GROUP_ID: ClassVar[str]
    HELP: ClassVar[str]
    PARAMETER_HELP: ClassVar[dict[str, str]] = {}

    def name(self) -> str:
        return self.ALGORITHM_ID

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.TITLE

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.GROUP_ID

    def group(self) -> str:
        return GROUPS[self.GROUP_ID]

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return self.HELP

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        """The algorithm's page of the documentation shipped with the plugin (its Help button opens it)."""
        return page_url(processing_page(self.ALGORITHM_ID))

    def addParameter(self, definition, createOutput: bool = True) -> bool:  # noqa: N802,N803 - QGIS API
        """Every parameter gets its help text, if it has one, as it is added."""
        about = {**SHARED_PARAMETER_HELP, **self.PARAMETER_HELP}.get(definition.name())
        if about:
            definition.setHelp(about)
        return super().addParameter(definition, createOutput)

    def createInstance(self):  # noqa: N802 - QGIS API
        return type(self)()
