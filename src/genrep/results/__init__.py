"""From test results to a verdict: Allure labels and attachments (``allure``), categories and
environment (``allure_meta``), the results reader, the gate, readiness outputs (traceability,
scorecard) and the offline HTML report."""
