"""From test results to a verdict: Allure labels and attachments (``allure``), the one writer of
genrep's own Allure results (``writer``), the registry of failure kinds (``failure_kinds``), categories
and environment (``allure_meta``), the results reader, the gate, readiness outputs (traceability,
scorecard) and the offline HTML report."""
