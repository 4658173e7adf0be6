"""Other libraries' names and call signatures on top of skhep_reweight's estimators.

- :mod:`skhep_reweight.compat.hep_ml`: ``NNReweighter`` and ``FoldingReweighter`` with the
  interface of ``hep_ml.reweight`` (``fit(original, target, original_weight, target_weight)``,
  ``predict_weights(original, original_weight)``), so that an analysis written for hep_ml
  switches to a neural reweighter by changing its import line. hep_ml itself is not needed.
"""
