"""MSH-18 relabelled: UTF-8 bytes declared as 8859/1 (the receiver should refuse it)."""

from __future__ import annotations

from genrep.mutate.message import Message
from genrep.mutate.operators.base import Operator, hl7_type

UTF8 = b"UNICODE UTF-8"
LATIN1 = b"8859/1"


class CharsetLabelSwapped(Operator):
    name = "charset-label-swapped"
    changes = ("MSH-18 of a UTF-8 message with non-ASCII text is changed to 8859/1 (an interface engine "
               "relabels the message): a correct receiver refuses it (AE), a lenient one stores mojibake")
    targets = ("ORU",)
    effect = "refusal"

    def applies(self, message: Message) -> bool:
        if (message.channel != self.channel or hl7_type(message) not in self.targets
                or message.data.isascii()):
            return False
        end = min((i for i in (message.data.find(b"\r"), message.data.find(b"\n")) if i >= 0),
                  default=len(message.data))
        fields = message.data[:end].split(b"|")
        return len(fields) > 17 and fields[17] == UTF8

    def apply(self, message: Message) -> Message:
        if not self.applies(message):
            return message
        end = min((i for i in (message.data.find(b"\r"), message.data.find(b"\n")) if i >= 0),
                  default=len(message.data))
        fields = message.data[:end].split(b"|")
        fields[17] = LATIN1
        return message.with_data(b"|".join(fields) + message.data[end:])
