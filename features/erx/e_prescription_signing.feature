@erx
Feature: An e-prescription is signed with the prescriber's one valid signing certificate and arrives verified
  A prescriber sends an e-prescription through the EHR. The EHR signs it with the prescriber's SITHS
  card and sends it to the national receiver, which verifies the signature. In 2024 signing failed:
  too many certificates were listed to the prescriber, still unresolved on day two. Whatever else is
  on the card (the authentication certificate, expired and not yet valid ones, a colleague's), the
  EHR offers and signs with the one valid signing certificate; with none it refuses clearly; and what
  it says was sent has arrived (contracts/erx.yaml).

  Background:
    Given a registered test patient

  @ERX-001 @ERX-R01 @happy
  Scenario: An e-prescription is signed with the signing certificate, sent and verified at the receiver
    When "Test Läkare Ett" e-prescribes "Amoxicillin 500 mg" with the dosage "1 tablett 3 gånger dagligen i 7 dagar"
    Then the EHR says the e-prescription was sent
    And the receiver has the e-prescription, its signature verified with the prescriber's signing certificate

  @ERX-003 @ERX-R01 @negative
  Scenario: A card full of certificates offers only the one valid signing certificate
    Then "Test Läkare Ett" is offered only their one valid signing certificate

  @ERX-002 @ERX-R02 @negative
  Scenario Outline: A card without a valid signing certificate (<card>) is refused clearly, and nothing is sent
    When "<prescriber>" e-prescribes "Paracetamol 500 mg" with the dosage "1-2 tabletter vid behov, högst 8 per dygn"
    Then the e-prescription is refused with the reason "<reason>"
    And nothing reaches the e-prescription receiver
    And "<prescriber>" is offered no certificate to sign with

    Examples:
      | card                                       | prescriber       | reason                            |
      | the signing certificate expired             | Test Läkare Två  | signing-certificate-expired       |
      | only an authentication certificate          | Test Läkare Tre  | no-signing-certificate            |
      | not yet valid, and a colleague's valid one  | Test Läkare Fyra | signing-certificate-not-yet-valid |

  @ERX-004 @negative
  Scenario Outline: With the receiver down (<fault>) the e-prescription is recorded failed, never sent, and is sent when resent
    Given the e-prescription receiver is down (<fault>)
    When "Test Läkare Ett" e-prescribes "Metformin 500 mg" with the dosage "1 tablett 2 gånger dagligen"
    Then the EHR records the e-prescription as failed with the reason "receiver-unavailable"
    When the e-prescription receiver is back
    And the prescriber sends the e-prescription again
    Then the EHR says the e-prescription was sent
    And the receiver has the e-prescription, its signature verified with the prescriber's signing certificate

    Examples:
      | fault    |
      | stopped  |
      | error503 |
