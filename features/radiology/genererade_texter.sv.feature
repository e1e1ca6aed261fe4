# language: sv
@radiology
Egenskap: Genererade svarstexter når journalen exakt som de skickades
  De andra scenarierna skickar texter som en testare har valt; de här skickar texter som ingen har
  valt. Varje text genereras tillsammans med exakt den text en korrekt journal ska visa (tabeller,
  negationsord, HL7-avgränsare och escapesekvenser, en slutsats, längder ända förbi avtalat maximum),
  skickas som ett slutligt svar över MLLP, läses tillbaka i varje representation journalen visar
  (varje presentedForm, slutsatsen, observationerna) och jämförs. Texterna seedas med scenariots
  namn, så ett scenario skickar samma texter vid varje körning; ett fel anger den första text som
  föll och den minsta som krympningen nådde, med sin klassificering.

  Bakgrund:
    Givet radiologikontraktet
    Och en registrerad testpatient

  @RAD-001 @RAD-R01 @RAD-R06 @RAD-R12 @negative
  Scenario: Genererade svarstexter med negationer i slutsatsen och escapesekvenser lagras exakt som de skickades
    Givet 25 genererade svarstexter med tabeller, negationer i slutsatsen och escapesekvenser
    När varje text skickas till journalen som ett slutligt svar
    Så lagras varje text exakt som den skickades i alla representationer
