"""Processing: Carry land use to another city (a probe on one city's profiles applied to another city's)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layer_files import vector_file
from ...core.catalog.loading import load_model
from ...core.landuse.labels import LabelSettings
from ...core.landuse.probes import PAPER_SEEDS, PROBE_KINDS, ProbeSettings, parse_seeds
from ...core.landuse.report import metrics_table
from ...core.landuse.splits import SplitSettings
from ...core.profiles.transfer import TransferSettings, transfer
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors
from ..inputs import is_given
from .profile import read_vocabulary, vocabulary_parameter
from .study import StudyAlgorithm, advanced

UNITS_TWICE = ("Give target labels (TARGET_LABELS) or target units (TARGET_UNITS), not both: labelled target "
               "units are predicted too.")


class TransferAlgorithm(CalliperAlgorithm):
    SOURCE_MODEL, SOURCE_LABELS, LABEL_FIELD = "SOURCE_MODEL", "SOURCE_LABELS", "LABEL_FIELD"
    TARGET_MODEL, TARGET_LABELS, TARGET_UNITS = "TARGET_MODEL", "TARGET_LABELS", "TARGET_UNITS"
    VOCABULARY, CELL_SIZE, BLOCK_SIZE, PROBE, SEEDS = "VOCABULARY", "CELL_SIZE", "BLOCK_SIZE", "PROBE", "SEEDS"
    MIN_CLASS_SIZE, ALIGN, OUTPUT_FOLDER = "MIN_CLASS_SIZE", "ALIGN", "OUTPUT_FOLDER"
    PREDICTIONS, METRICS = "PREDICTIONS", "METRICS"
    ALGORITHM_ID = "transfer"
    TITLE = "Carry land use to another city"
    GROUP_ID = "landuse"
    HELP = (
        "Learns the classes of a labelled layer in one city (the source) and predicts them in another (the "
        "target), each city with its own model. The two models' embeddings do not compare, but their profiles "
        "do: both score the same words (the POI classes both models were trained on, or a vocabulary file of "
        "phrases), so a probe trained on the source's profiles reads the target's. The models must use the "
        "same text encoder. Beside it, the same probe on POI-count features (each shared class's share of the "
        "training POIs around a unit) is the baseline a GIS user would try.\n\n"
        "What is predicted in the target city: the features of the target labels, else of the target units, "
        "else square cells of the cell size over the target model's training POIs. The target labels are "
        "only scored, never used for training or any choice; without them nothing is scored. Classes are "
        "those labelled in both cities (the label field has the same name in both layers).\n\n"
        "Outputs, in the output folder: predictions.gpkg (the predicted class, its probability and one "
        "probability field per class, loaded when the algorithm finishes) and metrics.json (scores of both "
        "methods as mean ± std over the seeds, the vocabulary, protocol and notes); the scores are also "
        "written to the log.\n\n"
        "Advanced: the source's validation blocks (for the POI counts' radius), the probe and its seeds, the "
        "minimum class size, and whether each city's features are standardised on its own units (on by "
        "default: a city's overall POI mix is not land use)."
    )

    def initAlgorithm(self, config=None) -> None:
        folder = QgsProcessingParameterFile.Behavior.Folder
        self.addParameter(QgsProcessingParameterFile(self.SOURCE_MODEL, "Source model folder (the labelled city)",
                                                     behavior=folder))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.SOURCE_LABELS, "Source labels (polygons or points)", [QgsProcessing.SourceType.TypeVectorAnyGeometry],
        ))
        self.addParameter(QgsProcessingParameterField(
            self.LABEL_FIELD, "Class field (in both label layers)", parentLayerParameterName=self.SOURCE_LABELS,
        ))
        self.addParameter(QgsProcessingParameterFile(self.TARGET_MODEL, "Target model folder (the city to predict)",
                                                     behavior=folder))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.TARGET_LABELS, "Target labels, to score the transfer (optional)",
            [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True,
        ))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.TARGET_UNITS, "…or target units to predict (default: cells over the target's POIs)",
            [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True,
        ))
        self.addParameter(QgsProcessingParameterNumber(
            self.CELL_SIZE, "Cell size (metres)", QgsProcessingParameterNumber.Type.Double, defaultValue=250.0, minValue=1.0,
        ))
        self.addParameter(vocabulary_parameter(self.VOCABULARY, "the POI classes both models know"))
        for parameter in (
            QgsProcessingParameterNumber(
                self.BLOCK_SIZE, "Source validation blocks (metres)", QgsProcessingParameterNumber.Type.Double,
                defaultValue=500.0, minValue=1.0,
            ),
            QgsProcessingParameterEnum(self.PROBE, "Probe", list(PROBE_KINDS), defaultValue=0),
            QgsProcessingParameterString(
                self.SEEDS, "Seeds (comma-separated, one run each)", defaultValue=",".join(map(str, PAPER_SEEDS)),
            ),
            QgsProcessingParameterNumber(
                self.MIN_CLASS_SIZE, "Minimum class size (rarer classes are left out)",
                QgsProcessingParameterNumber.Type.Integer, defaultValue=2, minValue=1,
            ),
            QgsProcessingParameterBoolean(self.ALIGN, "Standardise each city's features on its own units", True),
        ):
            self.addParameter(advanced(parameter))
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Output folder"))
        self.addOutput(QgsProcessingOutputVectorLayer(self.PREDICTIONS, "Predictions"))
        self.addOutput(QgsProcessingOutputFile(self.METRICS, "Metrics (JSON)"))

    def checkParameterValues(self, parameters, context):
        if is_given(parameters, self.TARGET_LABELS) and is_given(parameters, self.TARGET_UNITS):
            return False, UNITS_TWICE
        return super().checkParameterValues(parameters, context)

    def _path(self, parameters, name, context, feedback) -> str | None:
        """The file core reads for an optional layer parameter (core reads a file's first layer)."""
        layer = self.parameterAsVectorLayer(parameters, name, context)
        return vector_file(layer, context, feedback, with_layer_name=False).path if layer is not None else None

    def processAlgorithm(self, parameters, context, feedback):
        if is_given(parameters, self.TARGET_LABELS) and is_given(parameters, self.TARGET_UNITS):
            raise QgsProcessingException(UNITS_TWICE)  # also when a runner skips checkParameterValues
        source_labels = self._path(parameters, self.SOURCE_LABELS, context, feedback)
        target_labels = self._path(parameters, self.TARGET_LABELS, context, feedback)
        target_units = self._path(parameters, self.TARGET_UNITS, context, feedback)
        field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_FOLDER, context))
        with user_errors():
            settings = TransferSettings(
                probe=ProbeSettings(kind=PROBE_KINDS[self.parameterAsEnum(parameters, self.PROBE, context)],
                                    seeds=parse_seeds(self.parameterAsString(parameters, self.SEEDS, context))),
                split=SplitSettings(block_size=self.parameterAsDouble(parameters, self.BLOCK_SIZE, context)),
                labels=LabelSettings(min_class_size=self.parameterAsInt(parameters, self.MIN_CLASS_SIZE, context)),
                cell_size=self.parameterAsDouble(parameters, self.CELL_SIZE, context),
                align=self.parameterAsBool(parameters, self.ALIGN, context),
                overwrite=True,  # only a folder Calliper wrote is replaced; a user's gets a new subfolder (core.outputs)
            )
            vocabulary = read_vocabulary(self, parameters, self.VOCABULARY, context)
            source = load_model(self.parameterAsFile(parameters, self.SOURCE_MODEL, context))
            target = load_model(self.parameterAsFile(parameters, self.TARGET_MODEL, context))
            result = transfer(source, source_labels, target, field, out_dir, target_labels, target_units, vocabulary,
                              settings, control_for(feedback))
        metrics = result.metrics
        feedback.pushInfo(f"{metrics['n_target_units']} target units predicted from {metrics['n_source_units']} "
                          f"source units ({len(metrics['classes'])} classes).")
        if metrics["scored"]:
            feedback.pushInfo(f"Scores on the {metrics['n_target_scored']} labelled target units (mean ± std over "
                              "the seeds):\n" + metrics_table(metrics))
        predictions = str(result.outputs["predictions"])
        StudyAlgorithm.load_on_completion(context, predictions, f"{field} carried to the target", self.PREDICTIONS)
        return {self.OUTPUT_FOLDER: str(result.folder), self.PREDICTIONS: predictions,
                self.METRICS: str(result.outputs["metrics"])}
