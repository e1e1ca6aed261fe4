# language: sv
@nll
Egenskap: Journalen visar läkemedelslistan från NLL utan att text går förlorad
  Samma kontroll som det engelska lyckliga flödet: förväntad text läses från NLL och jämförs med
  det journalen visar.

  Bakgrund:
    Givet en registrerad testpatient
    Och NLL levererar release "N"

  @NLL-001 @happy
  Scenario: En doseringsanvisning på flera rader visas exakt som i NLL
    Givet patienten har en förskrivning i NLL med doseringsanvisningen:
      """
      1 tablett morgon och kväll.
      Ingen dos vid feber över 39 grader.
      """
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
