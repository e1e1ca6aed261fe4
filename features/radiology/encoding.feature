@radiology
Feature: Report text survives HL7 escaping, line endings and character sets
  HL7 v2 text has its own escapes (\F\ \S\ \T\ \R\ \E\, \Xhh\, \.br\), its segment terminator is
  a carriage return, and MSH-18 names the character set. Each is a place where text can be lost
  or garbled between the RIS and the EHR.

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-R04 @negative
  Scenario: A carriage return inside a line is escaped by the RIS and kept as a line break
    Given the report "rtg_handled" with a carriage return inside line 3
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

  @RAD-R04 @negative
  Scenario: An unescaped carriage return inside report text never yields half a report
    Given the report "rtg_handled" with a carriage return inside line 3
    When a faulty RIS sends the report without escaping carriage returns
    Then the EHR stores the report complete or refuses it

  @RAD-R05 @negative
  Scenario: CRLF segment terminators lose no lines
    Given the report "dt_thorax"
    When the RIS sends the report with CRLF segment terminators
    Then the EHR stores the report complete or refuses it

  @RAD-R06 @negative
  Scenario: HL7 delimiter characters in the text round-trip literally
    Given the report text:
      """
      Mätning: 12|14 mm ^ tidigare 10 mm ~ ökning & kontroll.
      Sökväg i PACS: \\pacs\arkiv\2024 ; uttryck "a|b^c~d&e\f".
      """
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

  @RAD-R08 @negative
  Scenario: Hex escapes for line breaks and multi-byte characters are decoded
    When the RIS sends a report whose OBX-5 holds the escaped value:
      """
      Ingen fraktur.\X0D0A\Hj\XC3A4\rtat \XC3B6\verv\XC3A4\gande normalt.\.br\Slutsats: ingen \XC3A5\tg\XC3A4\rd.
      """
    Then the EHR acknowledges with AA
    And the report read back reads:
      """
      Ingen fraktur.
      Hjärtat övervägande normalt.
      Slutsats: ingen åtgärd.
      """

  @RAD-R09 @negative
  Scenario Outline: Swedish characters survive the <charset> character set
    Given the report text:
      """
      Fynd: Ingen blödning. Förändring i vänster lårben, ÅÄÖ åäö é.
      Slutsats: Ödem kring knäleden; ej fraktur.
      """
    When the RIS sends the report in the "<charset>" character set
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text

    Examples:
      | charset       |
      | 8859/1        |
      | UNICODE UTF-8 |

  @RAD-R10 @negative
  Scenario: UTF-8 bytes in a message declared 8859/1 are flagged, never stored garbled
    Given the report text:
      """
      Fynd: Förändring i vänster lårben. Ingen blödning.
      """
    When the RIS sends the report encoded as UTF-8 while MSH-18 says "8859/1"
    Then the EHR stores the report complete or refuses it

  @RAD-R11 @negative
  Scenario: A report in Unicode NFD form is the same report
    Given the report "dt_thorax" in Unicode NFD form
    When the RIS sends the report
    Then the EHR acknowledges with AA
    And the report read back from the EHR matches the sent text
