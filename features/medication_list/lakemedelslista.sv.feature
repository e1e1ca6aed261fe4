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

  @NLL-001 @happy
  Scenario: Varje steg i en nedtrappning visas, inte bara det första
    # den gyllene korpusen har en nedtrappning i tre steg (gc-7: 2 tabletter, sedan 1, sedan 1/2,
    # 3 dagar var): tre dosageInstruction, var och en jämförd med journalens steg på samma plats
    Givet patienten har förskrivningarna ur den gyllene korpusen i NLL
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
    Och NLL har en förskrivning med 3 doseringssteg
