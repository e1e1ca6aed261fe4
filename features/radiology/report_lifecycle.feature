@radiology
Feature: Report versions, addenda, accessions and resends are handled safely
  A report goes from preliminary to final to corrected under one accession; an addendum adds to
  a report without altering it; an accession that does not fit must not be shortened; and a
  message resent after a lost ACK must not create a second report.

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-R16 @negative
  Scenario: Preliminary, final and corrected versions never mix
    When the RIS sends version "P" of the report with the text of "rtg_handled"
    And the RIS sends version "F" of the report with the text of "rtg_handled_final"
    And the RIS sends version "C" of the report with the text of "rtg_handled_corrected"
    Then the EHR shows only the latest version, with status "corrected"

  @RAD-R17 @negative
  Scenario: An addendum leaves the original report unaltered
    Given the report "rtg_handled"
    When the RIS sends the report
    And the RIS sends an addendum to the report with the text "Tillägg: ingen förändring vid kontroll efter 10 dagar."
    Then the original report read back is unchanged
    And the addendum is readable and linked to the original accession

  @RAD-R18 @negative
  Scenario: An accession longer than the receiver's limit is refused, never shortened
    Given the report "rtg_handled" with an accession of 25 characters
    When the RIS sends the report
    Then the EHR does not accept the message
    And no report is stored under the accession

  @RAD-R19 @negative
  Scenario: A message resent after a lost acknowledgement gives one report
    Given the report "dt_thorax"
    When the RIS sends the report
    And the RIS resends the same message after a lost acknowledgement
    Then the EHR acknowledges with AA
    And exactly one report is stored under the accession
