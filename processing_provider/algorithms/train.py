"""Processing: Train model (a POI layer -> a model folder)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layers import places_file_for, point_table_from_layer
from ...core.catalog.training import train_from_points
from ...core.context.graph import streets_option
from ...core.data.places_schemas import DEFAULT_MIN_CONFIDENCE, PlacesSettings
from ...core.devices import DEVICE_CHOICES
from ...core.errors import FieldError, SettingsError
from ...core.model.pipeline import TrainJob
from ...core.model.settings import ENCODER_LABELS, ModelSettings
from ...core.model.train import TrainSettings
from ...core.text.corpus import places_inputs
from ...core.text.descriptions import TextFields, TextTemplate
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors

ENCODERS = list(ENCODER_LABELS)


class TrainModelAlgorithm(CalliperAlgorithm):
    INPUT, CLASS_FIELD, CATEGORY_FIELD, NAME_FIELD = "INPUT", "CLASS_FIELD", "CATEGORY_FIELD", "NAME_FIELD"
    INCLUDE_NAME, TEMPLATE, ENCODER, EPOCHS, BATCH_SIZE = "INCLUDE_NAME", "TEMPLATE", "ENCODER", "EPOCHS", "BATCH_SIZE"
    STREETS, DEVICE, SEED, OUTPUT = "STREETS", "DEVICE", "SEED", "OUTPUT"
    PLACES_FILE, LEVEL, MIN_CONFIDENCE = "PLACES_FILE", "LEVEL", "MIN_CONFIDENCE"
    ALGORITHM_ID = "train"
    TITLE = "Train model"
    GROUP_ID = "model"
    HELP = (
        "Trains a CaLLiPer language-location model on a POI layer: each POI's description "
        "(built from its class, category and optionally name fields) is read by a frozen "
        "sentence-transformer; a multi-scale location encoder learns to match it. The output "
        "is a model folder (model.safetensors + card.json) used by every other Calliper tool. "
        "Lon/lat layers are trained in the UTM zone of their centroid. The grid + context graph "
        "encoder also reads street connectivity from an OpenStreetMap extract (.osm.pbf): the street "
        "network file, or the POI layer's own file when it is read from an .osm.pbf. An Overture Maps Places or "
        "Foursquare Open Source Places file (Parquet) is given as a file instead of a layer, with no fields: it is "
        "read in chunks, its closed and low-confidence places are left out, and its category path gives the class "
        "(the most specific level, or the level chosen) and the category (the top level)."
    )

    PARAMETER_HELP = {
        "INPUT": "A point layer of places; lines and polygons are read as a point inside each. Any CRS that "
                 "places it on the Earth.",
        "PLACES_FILE": "An Overture Maps Places or Foursquare Open Source Places file, instead of a layer: "
                       "no fields to choose.",
        "CLASS_FIELD": "What each place is (cafe, pharmacy, bus_station): the word the model learns from.",
        "CATEGORY_FIELD": "The level above the class (amenity, shop), if the layer has one.",
        "NAME_FIELD": "The place's name, appended to its description (CaLLiPer+).",
        "TEMPLATE": "How a description is written, e.g. 'A place of {class}[, called {name}]': a part in "
                    "square brackets is left out when its field is empty.",
        "ENCODER": "How a location is encoded: grid (the default) suits a city; 'grid + context graph' also "
                   "reads each place's surroundings and streets (slower).",
        "EPOCHS": "The most passes over the POIs; training stops after 10 without a better validation loss and "
                  "keeps the best.",
    }

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.INPUT, "POI layer", [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.PLACES_FILE, "or a places file (Overture / Foursquare Parquet)", optional=True,
            fileFilter="Overture / Foursquare places (*.parquet *.geoparquet)",
        ))
        self.addParameter(QgsProcessingParameterField(
            self.CLASS_FIELD, "Class field (not for a places file)", parentLayerParameterName=self.INPUT, optional=True))
        for key, label in ((self.CATEGORY_FIELD, "Category field"), (self.NAME_FIELD, "Name field")):
            self.addParameter(QgsProcessingParameterField(key, label, parentLayerParameterName=self.INPUT, optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.INCLUDE_NAME, "Append names (CaLLiPer+) while they stay cheap to encode", True))
        self.addParameter(QgsProcessingParameterString(self.TEMPLATE, "Description template (empty: the paper's)", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.ENCODER, "Location encoder", list(ENCODER_LABELS.values()), defaultValue=0))
        self.addParameter(QgsProcessingParameterFile(
            self.STREETS, "Street network (.osm.pbf, for the context-graph encoder)", optional=True,
            fileFilter="OpenStreetMap extracts (*.osm.pbf *.pbf)",
        ))
        self.addParameter(QgsProcessingParameterNumber(
            self.LEVEL, "Places file: category level of the class (0: the most specific, 1: the top level)",
            defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.MIN_CONFIDENCE, "Places file: leave out places under this confidence",
            QgsProcessingParameterNumber.Type.Double, defaultValue=DEFAULT_MIN_CONFIDENCE, minValue=0.0, maxValue=1.0))
        self.addParameter(QgsProcessingParameterNumber(self.EPOCHS, "Epochs", defaultValue=100, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            self.BATCH_SIZE, "Batch size (0: 1024 on a CPU, 8192-32768 from free GPU memory)", defaultValue=0, minValue=0,
        ))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", list(DEVICE_CHOICES), defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, "Random seed", defaultValue=42))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, "Model folder"))

    def processAlgorithm(self, parameters, context, feedback):
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        field = lambda key: self.parameterAsString(parameters, key, context) or None  # noqa: E731
        out = Path(self.parameterAsString(parameters, self.OUTPUT, context))
        encoder = ENCODERS[self.parameterAsEnum(parameters, self.ENCODER, context)]
        names = self.parameterAsBool(parameters, self.INCLUDE_NAME, context)
        with user_errors():
            places_file = places_file_for(self.parameterAsFile(parameters, self.PLACES_FILE, context), layer)
            if places_file is not None:
                places = PlacesSettings(self.parameterAsInt(parameters, self.LEVEL, context) or None,
                                        self.parameterAsDouble(parameters, self.MIN_CONFIDENCE, context))
                points, fields, template = places_inputs(places_file, places, field(self.TEMPLATE),
                                                         None if names else False)
                name = f"the file {places_file.name}"
            elif layer is None:
                raise SettingsError(f"Choose a POI layer ({self.INPUT}) or a places file ({self.PLACES_FILE}).")
            elif not field(self.CLASS_FIELD):
                raise FieldError(f"Choose the field of '{layer.name()}' that holds the POI class ({self.CLASS_FIELD}).")
            else:
                points = point_table_from_layer(layer)
                fields = TextFields(field(self.CLASS_FIELD), field(self.CATEGORY_FIELD), field(self.NAME_FIELD))
                template = TextTemplate(template=field(self.TEMPLATE), include_name=None if names else False)
                name = f"the layer '{layer.name()}'"
            options, note = streets_option(
                encoder, self.parameterAsFile(parameters, self.STREETS, context),
                layer.source() if layer is not None and places_file is None else None,
                f"the Street network parameter ({self.STREETS})",
            )
            if note and feedback is not None:
                feedback.pushInfo(note)
            job = TrainJob(
                points=points,
                fields=fields,
                out=out,
                template=template,
                model=ModelSettings(encoder=encoder, encoder_options=options),
                train=TrainSettings(
                    epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
                    batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context) or None,
                    device=DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                    seed=self.parameterAsInt(parameters, self.SEED, context),
                ),
                layer_name=name,
                overwrite=True,  # only a folder Calliper wrote is replaced; a user's gets a new subfolder (core.outputs)
            )
            outcome = train_from_points(job, control_for(feedback))
        metrics = outcome.card.metrics
        feedback.pushInfo(f"Best validation loss {metrics['best_val_loss']:.4f} at epoch {metrics['best_epoch']}.")
        return {self.OUTPUT: str(outcome.folder)}
