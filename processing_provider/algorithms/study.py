"""The parameters, outputs and run shared by Classify land use and Predict values (one probing study each).

A study scores the model's embeddings against two baselines (coordinates only, POI
counts) with the same probe, splits and seeds, then writes predictions.gpkg,
metrics.json and report.html into the output folder; subclasses add the target
fields and call the core function.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ...adapters.layer_files import raster_file, vector_file
from ...core.jobs import JobControl
from ...core.landuse.labels import SAMPLING_KINDS
from ...core.landuse.probes import PAPER_SEEDS, PROBE_KINDS, parse_seeds
from ...core.landuse.report import metrics_table
from ...core.landuse.splits import SPLIT_KINDS
from ...core.landuse.study import StudyResult
from ...core.landuse.unit_features import FeatureSource, study_features
from ..base import CalliperAlgorithm
from ..feedback import control_for, user_errors

STUDY_HELP = (
    "The study compares the model's embeddings with two baselines (coordinates only; POI counts around each "
    "feature, TF-IDF weighted) using the same probe (linear, or the paper's MLP), the same split (spatial: "
    "whole square blocks go to test and validation, so neighbours cannot leak; or random) and the same seeds; "
    "scores are mean ± std over the seeds. A probe trained on every labelled feature then predicts every "
    "feature of the layer.\n\n"
    "Outputs, in the output folder: predictions.gpkg (the label layer with the predictions, loaded when the "
    "algorithm finishes), metrics.json and report.html (scores of every method, protocol, notes). The POI "
    "layer for the POI-count baseline defaults to the one the model was trained on.\n\n"
    "Embeddings studied: the CaLLiPer model, a region raster (MMGR, imagery + POIs), or both concatenated "
    "(give both). At least one is needed."
)


def advanced(parameter: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
    return parameter


class StudyAlgorithm(CalliperAlgorithm):
    MODEL, REGION_RASTER, LABELS = "MODEL", "REGION_RASTER", "LABELS"
    SPLIT, BLOCK_SIZE, PROBE, SEEDS = "SPLIT", "BLOCK_SIZE", "PROBE", "SEEDS"
    POIS, POI_FIELD, SAMPLING, SAMPLES, OUTPUT_FOLDER = "POIS", "POI_FIELD", "SAMPLING", "SAMPLES", "OUTPUT_FOLDER"
    PREDICTIONS, METRICS, REPORT = "PREDICTIONS", "METRICS", "REPORT"
    GROUP_ID = "landuse"
    PARAMETER_HELP = {
        "LABELS": "Areas (or points) with a known label, e.g. OpenStreetMap land-use polygons: the study learns "
                  "on some of them and is scored on the others.",
        "REGION_RASTER": "A region raster from 'Train MMGR' or 'Region raster (MMGR)': its embeddings join the model's.",
    }

    def target_parameters(self) -> list[QgsProcessingParameterDefinition]:
        """The fields holding what is predicted (after the label layer in the form)."""
        raise NotImplementedError

    def extra_parameters(self) -> list[QgsProcessingParameterDefinition]:
        """Further parameters (before the output folder)."""
        return []

    def run_study(
        self, model: FeatureSource, labels: str, out_dir: Path, options: dict, parameters, context, control: JobControl
    ) -> StudyResult:
        """Build the core settings from ``options`` (``StudySettings.from_options``) plus own parameters, and run."""
        raise NotImplementedError

    def layer_name(self, parameters, context) -> str:
        """The name of the predictions layer loaded on completion."""
        raise NotImplementedError

    def more_results(self, result: StudyResult, parameters, context) -> dict:
        """Outputs beyond the predictions, metrics and report (and their loading on completion)."""
        return {}

    def initAlgorithm(self, config=None) -> None:
        self.addParameter(QgsProcessingParameterFile(
            self.MODEL, "Model folder (CaLLiPer)", behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True,
        ))
        self.addParameter(QgsProcessingParameterRasterLayer(
            self.REGION_RASTER, "Region raster (MMGR; with a model, both are concatenated)", optional=True,
        ))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.LABELS, "Labelled layer (polygons or points)", [QgsProcessing.SourceType.TypeVectorAnyGeometry],
        ))
        for parameter in self.target_parameters():
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterEnum(self.SPLIT, "Split", list(SPLIT_KINDS), defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.BLOCK_SIZE, "Block size of the spatial split (metres)", QgsProcessingParameterNumber.Type.Double,
            defaultValue=500.0, minValue=1.0,
        ))
        self.addParameter(QgsProcessingParameterEnum(self.PROBE, "Probe", list(PROBE_KINDS), defaultValue=0))
        self.addParameter(QgsProcessingParameterString(
            self.SEEDS, "Seeds (comma-separated, one run each)", defaultValue=",".join(map(str, PAPER_SEEDS)),
        ))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.POIS, "POI layer for the POI-count baseline (default: the model's training POIs)",
            [QgsProcessing.SourceType.TypeVectorAnyGeometry], optional=True,
        ))
        self.addParameter(advanced(QgsProcessingParameterField(
            self.POI_FIELD, "POI class field (default: the model's class field)", parentLayerParameterName=self.POIS,
            optional=True,
        )))
        self.addParameter(advanced(QgsProcessingParameterEnum(
            self.SAMPLING, "Where a polygon is embedded (its representative point, or the mean of random points)",
            list(SAMPLING_KINDS), defaultValue=0,
        )))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            self.SAMPLES, "Random points per polygon", QgsProcessingParameterNumber.Type.Integer, defaultValue=10, minValue=1,
        )))
        for parameter in self.extra_parameters():
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Output folder"))
        self.addOutput(QgsProcessingOutputVectorLayer(self.PREDICTIONS, "Predictions"))
        self.addOutput(QgsProcessingOutputFile(self.METRICS, "Metrics (JSON)"))
        self.addOutput(QgsProcessingOutputHtml(self.REPORT, "Report"))

    def processAlgorithm(self, parameters, context, feedback):
        labels = vector_file(self.parameterAsVectorLayer(parameters, self.LABELS, context), context, feedback)
        pois_layer = self.parameterAsVectorLayer(parameters, self.POIS, context)
        # The POI-count baseline reads a path only (a file's first layer).
        pois = vector_file(pois_layer, context, feedback, with_layer_name=False).path if pois_layer else None
        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_FOLDER, context))
        with user_errors():
            options = {
                "split": SPLIT_KINDS[self.parameterAsEnum(parameters, self.SPLIT, context)],
                "block_size": self.parameterAsDouble(parameters, self.BLOCK_SIZE, context),
                "probe": PROBE_KINDS[self.parameterAsEnum(parameters, self.PROBE, context)],
                "seeds": parse_seeds(self.parameterAsString(parameters, self.SEEDS, context)),
                "sampling": SAMPLING_KINDS[self.parameterAsEnum(parameters, self.SAMPLING, context)],
                "samples_per_unit": self.parameterAsInt(parameters, self.SAMPLES, context),
                "pois": pois,
                "poi_class_field": self.parameterAsString(parameters, self.POI_FIELD, context) or None,
                "labels_layer": labels.layer,
                "overwrite": True,  # only a folder Calliper wrote is replaced; a user's gets a new subfolder (core.outputs)
            }
            region_layer = self.parameterAsRasterLayer(parameters, self.REGION_RASTER, context)
            region = raster_file(region_layer, "region raster") if region_layer else None
            features = study_features(self.parameterAsFile(parameters, self.MODEL, context) or None, region)
            result = self.run_study(features, labels.path, out_dir, options, parameters, context, control_for(feedback))
        feedback.pushInfo("Scores on the test features (mean ± std over the seeds):\n" + metrics_table(result.metrics))
        predictions = str(result.outputs["predictions"])
        self.load_on_completion(context, predictions, self.layer_name(parameters, context), self.PREDICTIONS)
        return {
            self.OUTPUT_FOLDER: str(result.folder),
            self.PREDICTIONS: predictions,
            self.METRICS: str(result.outputs["metrics"]),
            self.REPORT: str(result.outputs["report"]),
            **self.more_results(result, parameters, context),
        }

    @staticmethod
    def load_on_completion(context: QgsProcessingContext, path: str, name: str, output: str) -> None:
        """Have the runner (the Processing dialog, not scripts or qgis_process) add ``path`` to the project."""
        context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(name, context.project(), output))
