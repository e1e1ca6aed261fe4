# language: sv
@erx
Egenskap: Ett e-recept signeras med förskrivarens enda giltiga underskriftscertifikat och kommer fram verifierat
  Förskrivaren skickar ett e-recept via journalen. Journalen signerar det med förskrivarens SITHS-kort
  och skickar det till den nationella mottagaren, som verifierar signaturen. 2024 gick signeringen
  inte: för många certifikat listades för förskrivaren, fortfarande olöst dag två. Vad som än finns
  på kortet (legitimeringscertifikatet, utgångna och ännu inte giltiga certifikat, en kollegas)
  erbjuder och signerar journalen med det enda giltiga underskriftscertifikatet; utan ett sådant
  nekar den tydligt; och det den säger är skickat har kommit fram (contracts/erx.yaml).

  Bakgrund:
    Givet en registrerad testpatient

  @ERX-001 @ERX-R01 @happy
  Scenario: Ett e-recept signeras med underskriftscertifikatet, skickas och verifieras hos mottagaren
    När "Test Läkare Ett" förskriver e-recept på "Omeprazol 20 mg" med doseringen "1 kapsel på morgonen"
    Så säger journalen att e-receptet är skickat
    Och har receptmottagaren e-receptet, med signaturen verifierad mot förskrivarens underskriftscertifikat

  @ERX-003 @ERX-R01 @negative
  Scenario: Ett kort fullt av certifikat erbjuder bara det enda giltiga underskriftscertifikatet
    Så erbjuds "Test Läkare Ett" bara sitt enda giltiga underskriftscertifikat

  @ERX-002 @ERX-R02 @negative
  Scenariomall: Ett kort utan giltigt underskriftscertifikat (<kort>) nekas tydligt, och ingenting skickas
    När "<förskrivare>" förskriver e-recept på "Ibuprofen 400 mg" med doseringen "1 tablett 3 gånger dagligen vid behov"
    Så nekas e-receptet med orsaken "<orsak>"
    Och når ingenting receptmottagaren
    Och erbjuds "<förskrivare>" inget certifikat att signera med

    Exempel:
      | kort                                      | förskrivare      | orsak                                        |
      | underskriftscertifikatet har gått ut       | Test Läkare Två  | underskriftscertifikatet har gått ut         |
      | bara ett legitimeringscertifikat           | Test Läkare Tre  | inget underskriftscertifikat                 |
      | inte giltigt än, och en kollegas giltiga   | Test Läkare Fyra | underskriftscertifikatet är inte giltigt än  |

  @ERX-004 @negative
  Scenariomall: Är mottagaren nere (<fel>) registreras e-receptet som misslyckat, aldrig skickat, och skickas när det skickas igen
    Givet receptmottagaren är nere (<fel>)
    När "Test Läkare Ett" förskriver e-recept på "Metformin 500 mg" med doseringen "1 tablett 2 gånger dagligen"
    Så registrerar journalen e-receptet som misslyckat med orsaken "mottagaren otillgänglig"
    När receptmottagaren är uppe igen
    Och förskrivaren skickar e-receptet igen
    Så säger journalen att e-receptet är skickat
    Och har receptmottagaren e-receptet, med signaturen verifierad mot förskrivarens underskriftscertifikat

    Exempel:
      | fel        |
      | stoppad    |
      | hänger     |
      | dödad      |
