@radiology
Feature: MLLP frames are reassembled however the bytes arrive
  MLLP has no length field: a message is VT ... FS CR, and TCP may split it or join it with the
  next one. A receiver that treats one read as one message loses or garbles reports.

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-R20 @negative
  Scenario: A report split across many TCP writes is reassembled
    Given the report "dt_thorax"
    When the RIS sends the report split into 17 chunks
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

  @RAD-R20 @negative
  Scenario: Two reports in one TCP write are both stored
    Given the report "dt_thorax"
    When the RIS sends the report and a second report in one write
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text
    And the second report is stored intact too

  @RAD-R20 @negative
  Scenario: A frame that never ends gets no acknowledgement and stores nothing
    Given the report "rtg_handled"
    When the RIS sends the report without the end-of-frame bytes and closes the connection
    Then no acknowledgement is received
    And no report is stored under the accession
