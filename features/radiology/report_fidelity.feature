@radiology
Feature: Radiology reports reach the EHR with every word and line intact
  Reports from the RIS arrive as HL7 v2 ORU^R01 over MLLP. An AA acknowledgement does not prove
  that the report was stored: every scenario reads the report back through the EHR's FHIR API and
  compares it with what was sent. In November 2024 reports lost text on this path.

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-001 @RAD-R21 @happy
  Scenario: A final CT report is stored exactly as sent
    Given the report "dt_thorax"
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report is readable from the EHR within the agreed time
    And the report read back from the EHR matches the sent text

  @RAD-R01 @negative
  Scenario: A 70 KiB report in one FT value is stored complete or refused
    Given a generated report of 70 KiB in one paragraph
    When the RIS sends the report using the "ft-br" convention
    Then the EHR stores the report complete or refuses it

  @RAD-R01 @negative
  Scenario: A 70 KiB report sent as repetitions is stored complete or refused
    Given a generated report of 70 KiB in one paragraph
    When the RIS sends the report using the "repetitions" convention
    Then the EHR stores the report complete or refuses it

  @RAD-R02 @negative
  Scenario: A report of 1000 TX lines keeps every line in order
    Given a generated report of 1000 lines
    When the RIS sends the report using the "obx-per-line" convention
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

  @RAD-R03 @negative
  Scenario Outline: The <convention> line convention gives the same stored text
    Given the report "dt_thorax"
    When the RIS sends the report using the "<convention>" convention
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

    Examples:
      | convention   |
      | obx-per-line |
      | repetitions  |
      | ft-br        |

  @RAD-R12 @negative
  Scenario: Negation words at line boundaries and alone on a line survive
    Given the report text:
      """
      Slutsats:
      Ingen
      fraktur. Inga tecken till blödning, ej
      heller luxation. Inte förändrat sedan föregående undersökning, utan
      anmärkning. Icke
      kontrastuppladdande.
      """
    When the RIS sends the report using the "repetitions" convention
    Then the EHR acknowledges with AA
    And every negation word of the sent text is present in the report read back

  @RAD-R14 @negative
  Scenario: Blank lines between paragraphs are kept
    Given the report "dt_thorax"
    When the RIS sends the report using the "ft-br" convention
    Then the EHR acknowledges with AA
    And the blank lines between paragraphs are kept

  @RAD-R23 @negative
  Scenario: A teleradiology report with tabs, NBSP, soft hyphens, smart quotes and markup keeps every word
    Given the report "teleradiologi"
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text
