# language: sv
# GENERATED from contracts/access.yaml by `.venv/bin/python -m steps.access_features`: do not edit by hand. Change the matrix
# and regenerate; tests/unit/test_access_features.py fails while this file and the matrix disagree.
@access
Egenskap: Behörigheter som matris: varje roll får göra det matrisen tillåter och nekas resten uttryckligen
  Behörigheter och deras konfiguration stod för en stor del av incidenterna första dagen 2024.
  Ett scenario per cell i contracts/access.yaml, utfört som miljöprofilens testanvändare med rollen
  (test_users, aldrig en riktig katalog). Ett nekande är 403 med en OperationOutcome som anger
  behörigheten som saknas, aldrig ett tomt svar: patienten har ett röntgensvar och en läkemedelslista,
  så ett tomt svar kan aldrig betyda "ingenting finns".

  Bakgrund:
    Givet en registrerad testpatient med ett röntgensvar och en förskrivning i NLL

  @ACC-001 @happy
  Scenariomall: En <roll> får <handling>
    När en testanvändare med rollen <roll> försöker <handling> för patienten
    Så tillåter journalen det

    @ACC-003
    Exempel: Andra yrkesgrupper än läkare skapar remisser (ett lagkrav)
      | roll                  | handling        |
      # [D] non-physicians must be able to create referrals: a legal requirement logged as a go-live risk in 2024
      | sjuksköterska         | skapa en remiss |
      # [D] non-physicians must be able to create referrals (a legal requirement); secretaries register referrals [A]
      | medicinsk sekreterare | skapa en remiss |
      # [D] non-physicians must be able to create referrals: a legal requirement logged as a go-live risk in 2024
      | fysioterapeut         | skapa en remiss |

    Exempel: Övriga handlingar som matrisen tillåter
      | roll                  | handling                     |
      | läkare                | läsa ett röntgensvar         |
      | läkare                | läsa läkemedelslistan        |
      | läkare                | förskriva                    |
      | läkare                | skapa en remiss              |
      | läkare                | boka en tid                  |
      | läkare                | signera en journalanteckning |
      | sjuksköterska         | läsa ett röntgensvar         |
      | sjuksköterska         | läsa läkemedelslistan        |
      | sjuksköterska         | boka en tid                  |
      | sjuksköterska         | signera en journalanteckning |
      | undersköterska        | läsa läkemedelslistan        |
      | undersköterska        | boka en tid                  |
      | medicinsk sekreterare | läsa ett röntgensvar         |
      | medicinsk sekreterare | boka en tid                  |
      | fysioterapeut         | läsa ett röntgensvar         |
      | fysioterapeut         | läsa läkemedelslistan        |
      | fysioterapeut         | boka en tid                  |
      | fysioterapeut         | signera en journalanteckning |

  @ACC-002 @negative
  Scenariomall: En <roll> nekas att <handling>, uttryckligen
    När en testanvändare med rollen <roll> försöker <handling> för patienten
    Så nekar journalen det uttryckligen och anger behörigheten som saknas

    @ACC-R01
    Exempel: Patientuppgifter som rollen inte får se
      | roll                  | handling              |
      # [A] patient data only for those who need it in their work (patientdatalagen 4 kap.); radiology reports are not part of an assistant nurse's tasks in this role model
      | undersköterska        | läsa ett röntgensvar  |
      # [A] patient data only for those who need it in their work (patientdatalagen 4 kap.); a medical secretary's tasks need no medication list
      | medicinsk sekreterare | läsa läkemedelslistan |

    Exempel: Handlingar som rollen inte får utföra
      | roll                  | handling                     |
      # [A] prescribing is a physician's right in this role model; nurses with their own limited prescribing right (förskrivningsrätt) would be a role of their own
      | sjuksköterska         | förskriva                    |
      # [D] an assistant nurse has no prescribing right
      | undersköterska        | förskriva                    |
      # [A] referrals are created by licensed professionals and medical secretaries in this role model
      | undersköterska        | skapa en remiss              |
      # [A] entries by an assistant nurse are countersigned by a licensed professional
      | undersköterska        | signera en journalanteckning |
      # [D] a medical secretary has no prescribing right
      | medicinsk sekreterare | förskriva                    |
      # [A] a secretary writes entries on dictation; the author signs them
      | medicinsk sekreterare | signera en journalanteckning |
      # [D] a physiotherapist has no prescribing right for medicines
      | fysioterapeut         | förskriva                    |

  @ACC-R02 @negative
  Scenario: En användare som journalen inte känner nekas uttryckligen, och betjänas aldrig som ett annat konto
    När en användare som journalen inte känner försöker läsa ett röntgensvar för patienten
    Så nekar journalen det uttryckligen
