"""PostgreSQL from an event loop, without a thread: psycopg2's asynchronous connections, whose
``poll()`` protocol is waited on with the loop's readers and writers. Such a connection is in
autocommit by nature: each statement is committed when it returns."""
import asyncio

import psycopg2
from psycopg2.extensions import POLL_OK, POLL_READ, POLL_WRITE


async def _ready(connection):
    """Wait until the connection's pending work (connecting, a statement) is done; its errors raise."""
    loop = asyncio.get_running_loop()
    while (state := connection.poll()) != POLL_OK:
        if state not in (POLL_READ, POLL_WRITE):
            raise psycopg2.OperationalError(f'unexpected poll state {state}')
        waiter = loop.create_future()

        def wake():
            if not waiter.done():
                waiter.set_result(None)
        fd = connection.fileno()
        add, remove = (loop.add_reader, loop.remove_reader) if state == POLL_READ else (loop.add_writer, loop.remove_writer)
        add(fd, wake)
        try:
            await waiter
        finally:
            remove(fd)


async def connect(connection_info):
    """A new asynchronous connection; ``connection_info`` as Odoo's ``sql_db.connection_info_for`` gives it."""
    connection = psycopg2.connect(async_=True, **connection_info)
    try:
        await _ready(connection)
    except BaseException:
        connection.close()
        raise
    return connection


async def execute(connection, query, params=None):
    """Run one statement, committed when it returns."""
    cursor = connection.cursor()
    cursor.execute(query, params)
    await _ready(connection)
    cursor.close()
