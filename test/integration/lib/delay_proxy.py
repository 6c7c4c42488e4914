#!/usr/bin/env python3
"""delay_proxy.py PORT_FILE TARGET_HOST:PORT DELAY_S: a TCP proxy on a free loopback port (written to PORT_FILE once
listening) that forwards to TARGET and delays every chunk a client sends by DELAY_S: a DCS that answers, slowly
(ha_dcs_slow_etcd.sh). Runs until killed."""
import asyncio
import os
import sys

port_file, target, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
target_host, target_port = target.rsplit(":", 1)


async def pipe(reader, writer, pause):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if pause:
                await asyncio.sleep(pause)  # --allow-sleep: the delay this proxy exists to inject
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, int(target_port))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, 0))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())
