"""Processing: Predict values / distributions (numeric fields of labelled areas from embeddings, with baselines)."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterField

from ...core.landuse.study import StudySettings, predict_values
from .study import STUDY_HELP, StudyAlgorithm


class PredictAlgorithm(StudyAlgorithm):
    FIELDS = "FIELDS"
    ALGORITHM_ID = "predict"
    TITLE = "Predict values / distributions"
    HELP = (
        "Learns numeric fields of a labelled layer from the model's embeddings and measures how well it "
        "does. One field is a value per feature (regression: R², RMSE, MAE; predictions in 'predicted'). "
        "Several fields are shares of one whole per feature, e.g. the population share of each income "
        "band (normalised to sum to one; KL divergence and more; predictions in pred_<field>). "
        + STUDY_HELP
    )

    def target_parameters(self):
        return [QgsProcessingParameterField(
            self.FIELDS, "Field(s) to predict (one: a value; several: shares)", parentLayerParameterName=self.LABELS,
            type=QgsProcessingParameterField.DataType.Numeric, allowMultiple=True,
        )]

    def target_fields(self, parameters, context) -> list[str]:
        """The chosen fields (parameterAsStrings from QGIS 3.40, where parameterAsFields is deprecated)."""
        read = getattr(self, "parameterAsStrings", self.parameterAsFields)
        return read(parameters, self.FIELDS, context)

    def layer_name(self, parameters, context) -> str:
        fields = self.target_fields(parameters, context)
        return f"Predicted {fields[0]}" if len(fields) == 1 else "Predicted shares"

    def run_study(self, model, labels, out_dir, options, parameters, context, control):
        fields = self.target_fields(parameters, context)
        return predict_values(model, labels, fields, out_dir, StudySettings.from_options(**options), control)
