"""One step (line) of a multi-line NLL dosage instruction dropped."""

from __future__ import annotations

from genrep.mutate.operators.base import LINE_BREAK, NLLTextOperator


class NLLDosageStepDropped(NLLTextOperator):
    name = "nll-dosage-step-dropped"
    changes = ("what NLL answers the EHR: one line of a patient instruction written over several lines (a "
               "step of a tapering schedule, \"Dag 4–6: 6 tabletter\") is left out, the others kept")
    keys = ("patientInstruction",)

    def change(self, text, rng):
        breaks = LINE_BREAK.findall(text)
        lines = LINE_BREAK.split(text)
        steps = [i for i, line in enumerate(lines) if line.strip()]
        if len(steps) < 2:
            return text
        drop = rng.choice(steps)
        kept = [(line, breaks[i] if i < len(breaks) else "") for i, line in enumerate(lines) if i != drop]
        if drop == len(lines) - 1:  # the last line dropped: no break left dangling after the new last one
            kept[-1] = (kept[-1][0], "")
        return "".join(line + brk for line, brk in kept)
