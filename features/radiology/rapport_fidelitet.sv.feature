# language: sv
@radiology
Egenskap: Röntgensvar når journalen utan att text går förlorad
  Samma kontroll som det engelska lyckliga flödet: svaret skickas som HL7 ORU^R01 över MLLP,
  läses tillbaka via journalens FHIR-gränssnitt och jämförs med det skickade. AA är inte lagrat.

  Bakgrund:
    Givet radiologikontraktet
    Och en registrerad testpatient

  @RAD-001 @happy
  Scenario: Ett slutligt DT-svar lagras exakt som det skickades
    Givet svaret "dt_thorax"
    När RIS skickar svaret
    Så kvitterar journalen med AA
    Och svaret som läses tillbaka från journalen är identiskt med det skickade
