"""The scikit-learn common checks that the package's label rule fails by design, shared by the
test modules that run the checks.

API.md section 16: ``y`` is 0 (source, simulation) or 1 (target, data), or booleans; any other
label is refused, because sorting labels such as "data" and "mc" (or 1 and 2) silently decides
which sample is the target. scikit-learn's checks fit binary-only classifiers on labels {1, 2}
or strings, so these checks fail on purpose; ``tests/test_common.py`` runs the same checks with
0/1 labels (``test_label_dependent_checks_with_zero_one_labels``), so what they test beyond the
labels stays tested.
"""

_REASON = "the label rule: y must be 0/1 or booleans; this check fits labels {1, 2}"

# checks that choose their labels through estimator_checks._enforce_estimator_tags_y: rerun with
# 0/1 labels in tests/test_common.py
RELABELLED_CHECKS = (
    "check_classifier_data_not_an_array",
    "check_estimators_dtypes",
    "check_fit2d_1feature",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_shape",
)
# checks that write their labels themselves: their subject tested by hand in test_common.py
OWN_LABEL_CHECKS = {
    "check_sample_weights_not_an_array": _REASON,
    "check_sample_weights_pandas_series": _REASON,
}
CLASSIFIER_ONLY = {
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
}

LABEL_RULE_FAILURES = {
    **dict.fromkeys(RELABELLED_CHECKS, _REASON),
    **OWN_LABEL_CHECKS,
    "check_classifiers_classes": (
        "the label rule: string labels are refused, so that 'data' and 'mc' are never sorted "
        "into the wrong roles"
    ),
}


def label_rule_failures(classifier: bool) -> dict:
    """The expected failures for an estimator that takes 0/1 labels; a transformer that takes y
    (OTCalibrator) runs no classifier checks."""
    if classifier:
        return dict(LABEL_RULE_FAILURES)
    return {k: v for k, v in LABEL_RULE_FAILURES.items() if k not in CLASSIFIER_ONLY}
