@multum
Feature: Drug-interaction checks fail over, fail back and fail safe
  The EHR checks every prescription against the patient's current drugs in Multum. Two servers
  and automatic failover were designed; in 2024 the failover was missing, the region went live on
  one server with manual switch-over, and load balancing was never activated. A failed check must
  say "interaction check not performed", never "no interactions".

  Background:
    Given a registered test patient
    And both Multum servers are healthy

  @MUL-001 @happy
  Scenario Outline: Prescribing <new> to a patient taking <current> shows the <severity> interaction
    When the clinician prescribes "<new>" to a patient taking "<current>"
    Then the EHR reports a "<severity>" interaction between "<current>" and "<new>"

    Examples:
      | current     | new            | severity        |
      | warfarin    | ibuprofen      | major           |
      | simvastatin | clarithromycin | major           |
      | sildenafil  | nitroglycerin  | contraindicated |

  @negative
  Scenario Outline: A Multum server that fails (<fault>) is failed over within the objectives
    When Multum server "multum-a" fails (<fault>) while clinicians prescribe
    Then interaction checks fail over within the contract's objectives
    And no check answered "no interactions" for a pair that interacts

    @MUL-M01
    Examples: refused connections and a killed process
      | fault   |
      | stopped |
      | killed  |

    @MUL-M02
    Examples: a server that accepts and never answers
      | fault |
      | hang  |

    @MUL-M03
    Examples: a server answering 503
      | fault    |
      | error503 |

  @MUL-M05 @negative
  Scenario: With both servers down the check is "not performed" and audited, never "no interactions"
    Given both Multum servers are down
    When the clinician prescribes "ibuprofen" to a patient taking "warfarin"
    Then the EHR says the interaction check was not performed
    And the failed check is recorded in the audit log

  @MUL-M07 @negative
  Scenario: A recovered server gets traffic back after the healthy probes, without flapping
    When Multum server "multum-a" fails and recovers while clinicians prescribe
    Then "multum-a" gets traffic back only after the contract's healthy probes, without flapping

  @MUL-M08 @negative
  Scenario: Servers on different content versions are flagged
    Given Multum server "multum-b" answers with content version "2024.10"
    When the clinician prescribes "ibuprofen" to a patient taking "warfarin"
    Then the differing content versions are flagged

  @MUL-M09 @negative
  Scenario: A check type that fails gives a result labelled partial
    Given both Multum servers fail their "duplication" check
    When the clinician prescribes "ibuprofen" to a patient taking "warfarin"
    Then the result is labelled partial, naming "duplication" as not performed

  @MUL-M10 @negative
  Scenario: Twice the peak load on one server meets the latency objective
    When twice the peak prescribing load runs with Multum server "multum-b" down
    Then the p95 latency of interaction checks meets the contract's objective
    And no check answered "no interactions" for a pair that interacts

  @MUL-BAL
  Scenario: With both servers healthy the checks are balanced between them
    When clinicians prescribe 40 times with both servers healthy
    Then each server answered its share of the checks within the contract's tolerance
