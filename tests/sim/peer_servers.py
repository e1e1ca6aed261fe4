"""Independent MLLP servers from the package registries, run as processes of their own for the peer
tests (``tests/sim/test_peer_*.py``). Deliberately no genrep import: the ACKs are built by the
libraries' own code, so genrep is checked against someone else's reading of HL7.

``python tests/sim/peer_servers.py KIND MODE`` prints ``peer listening on 127.0.0.1:PORT`` and
serves until killed.

* ``python-hl7``: python-hl7's asyncio server (``hl7.mllp.start_hl7_server``), one persistent
  connection per client, ACKs from ``Message.create_ack``. Modes: ``in_step``; ``previous`` (each
  message answered with the previous message's ACK on that connection, the first with its own: what
  node-hl7-server did); ``commit`` (a CA, then 50 ms later the AA, as enhanced mode with MSH-16 AL
  asks); ``commit_one_write`` (CA and AA in one write).
* ``hl7apy``: hl7apy's ``MLLPServer`` (a ThreadingTCPServer): one message per connection, the
  connection closed right after the ACK. Mode ``in_step`` (the ACK built with hl7apy's own
  ``Message("ACK")``).
"""

from __future__ import annotations

import asyncio
import sys
import time


def run_python_hl7(mode: str) -> None:
    import hl7
    from hl7.mllp import start_hl7_server

    async def handle(reader, writer):
        previous = None
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                if mode == "previous":
                    answer = (previous or message).create_ack("AA")
                    writer.writemessage(answer)
                elif mode in ("commit", "commit_one_write"):
                    commit, application = message.create_ack("CA"), message.create_ack("AA")
                    if mode == "commit_one_write":
                        writer.writeblock((str(commit) + "\x1c\r\x0b" + str(application)).encode("utf-8"))
                    else:
                        writer.writemessage(commit)
                        await writer.drain()
                        await asyncio.sleep(0.05)
                        writer.writemessage(application)
                else:
                    writer.writemessage(message.create_ack("AA"))
                await writer.drain()
                previous = message
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await start_hl7_server(handle, "127.0.0.1", 0, encoding="utf-8")
        port = server.sockets[0].getsockname()[1]
        print(f"peer listening on 127.0.0.1:{port}", flush=True)
        async with server:
            await server.serve_forever()

    _ = hl7
    asyncio.run(main())


def run_hl7apy(mode: str) -> None:
    from hl7apy.core import Message
    from hl7apy.mllp import AbstractHandler, MLLPServer
    from hl7apy.parser import parse_message

    class Ack(AbstractHandler):
        def reply(self):
            incoming = parse_message(self.incoming_message, find_groups=False)
            res = Message("ACK", version=incoming.version)
            res.msh.msh_9 = "ACK^" + (incoming.msh.msh_9.msh_9_2.value or "") + "^ACK"
            res.msh.msh_11 = incoming.msh.msh_11.value or "P"
            res.msh.msh_3 = incoming.msh.msh_5.value or "PEER"
            res.msh.msh_5 = incoming.msh.msh_3.value or "GENREP"
            res.msh.msh_10 = "P" + str(int(time.time() * 1e6))[-12:]
            res.msa.msa_1 = "AA"
            res.msa.msa_2 = incoming.msh.msh_10.value
            return res.to_mllp()

    handlers = {"ORU^R01^ORU_R01": (Ack,), "ORU^R01": (Ack,), "ADT^A04^ADT_A01": (Ack,),
                "ADT^A08^ADT_A01": (Ack,), "ADT^A04": (Ack,), "ADT^A08": (Ack,)}
    server = MLLPServer("127.0.0.1", 0, handlers, timeout=5)
    print(f"peer listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    kind, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "in_step")
    {"python-hl7": run_python_hl7, "hl7apy": run_hl7apy}[kind](mode)
