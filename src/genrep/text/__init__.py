"""Text the harness sends and compares: report fidelity (sent vs stored), test identities and the
identity guard's scanning, synthetic test patients and the report-text corpus. No transport here."""
