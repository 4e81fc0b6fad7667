"""Daily counts of messages and calls, for the overview (models/comm_overview.py).

A ``GROUP BY`` over a period of a million messages takes seconds on a busy server; these counts
are a few rows per account and day. PostgreSQL keeps them: one statement-level trigger per table
(``REFERENCING OLD TABLE / NEW TABLE``) adds what each INSERT, UPDATE or DELETE statement changed,
as one upsert — whoever writes messages (the queue, the dispatch, the ORM, raw SQL) needs no
hook, and a batch costs one statement. Each database connection counts in its own rows
(``bucket``, its backend pid, as comm.webhook.rejection does): concurrent workers never wait on
the same row; a day's figure is the sum of its rows (a row may be negative: a message counted
"sent" by one connection, "delivered" by another).
"""
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# table -> (date column of the day, channel, error code, failure type: never NULL, they are keys)
SOURCES = {
    'comm_message': ('create_date', "channel, COALESCE(error_code, ''), COALESCE(failure_type, '')"),
    'comm_call': ('start_date', "'voice', '', ''"),
}
KEY = 'day, provider_id, channel, error_code, failure_type, direction, state'


class CommStat(models.Model):
    _name = 'comm.stat'
    _description = 'Daily message and call counts'
    _log_access = False

    day = fields.Date(required=True, index=True, help='UTC day the message was created or the call started.')
    provider_id = fields.Many2one('comm.provider', required=True, ondelete='cascade')
    channel = fields.Char(required=True, help='sms, mms, whatsapp or voice')
    error_code = fields.Char(required=True, default='', help="The provider's error code ('' without one).")
    failure_type = fields.Char(required=True, default='')
    direction = fields.Char(required=True)
    state = fields.Char(required=True)
    bucket = fields.Integer(required=True, default=0, help='The database connection that counted them.')
    count = fields.Integer()

    _sql_constraints = [('key_unique', 'unique(day, provider_id, channel, error_code, failure_type, direction, state, bucket)',
                         'One count per key and connection.')]

    def init(self):
        for table, (date_column, channel) in SOURCES.items():
            self._install_trigger(table, date_column, channel)
        self.env.cr.execute("SELECT 1 FROM comm_stat LIMIT 1")
        if not self.env.cr.fetchone():
            self._rebuild()

    @api.model
    def _install_trigger(self, table, date_column, channel):
        function = f'{table}_stat_count'
        rows = lambda source, sign: SQL(   # noqa: E731
            "SELECT %s::date, provider_id, %s, direction, state, %s FROM %s",
            SQL.identifier(date_column), SQL(channel), sign, SQL.identifier(source))
        added = rows('new_rows', 1)
        removed = rows('old_rows', -1)

        def branch(parts):
            return SQL(
                """INSERT INTO comm_stat AS s (%(key)s, bucket, count)
                   SELECT %(key)s, pg_backend_pid(), sum(delta)
                     FROM (%(parts)s) AS changed (day, provider_id, channel, error_code, failure_type, direction,
                                                  state, delta)
                    GROUP BY %(key)s HAVING sum(delta) != 0
                   ON CONFLICT (%(key)s, bucket) DO UPDATE SET count = s.count + EXCLUDED.count;""",
                key=SQL(KEY), parts=SQL(' UNION ALL ').join(parts))
        self.env.cr.execute(SQL(
            """CREATE OR REPLACE FUNCTION %(function)s() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF TG_OP = 'INSERT' THEN %(insert)s
                   ELSIF TG_OP = 'DELETE' THEN %(delete)s
                   ELSE %(update)s
                   END IF;
                   RETURN NULL;
               END $$""",
            function=SQL.identifier(function), insert=branch([added]), delete=branch([removed]),
            update=branch([added, removed])))
        for operation, tables in (('INSERT', 'NEW TABLE AS new_rows'), ('UPDATE', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'),
                                  ('DELETE', 'OLD TABLE AS old_rows')):
            trigger = SQL.identifier(f'{table}_stat_{operation.lower()}')
            self.env.cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON %s", trigger, SQL.identifier(table)))
            self.env.cr.execute(SQL(
                "CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION %s()",
                trigger, SQL(operation), SQL.identifier(table), SQL(tables), SQL.identifier(function)))

    @api.model
    def _rebuild(self):
        """Count everything again (install, or after a manual repair of the tables)."""
        self.env.cr.execute("DELETE FROM comm_stat")
        for table, (date_column, channel) in SOURCES.items():
            self.env.cr.execute(SQL(
                """INSERT INTO comm_stat (%s, bucket, count)
                   SELECT %s::date, provider_id, %s, direction, state, 0, count(*) FROM %s GROUP BY 1, 2, 3, 4, 5, 6, 7""",
                SQL(KEY), SQL.identifier(date_column), SQL(channel), SQL.identifier(table)))

    @api.autovacuum
    def _gc_merge_buckets(self):
        """Fold the connections' rows of the days before yesterday into one row per key (bucket 0):
        the table stays a few rows per account and day."""
        self.env.cr.execute(SQL(
            """WITH folded AS (DELETE FROM comm_stat WHERE day < %(day)s AND bucket != 0 RETURNING %(key)s, count)
               INSERT INTO comm_stat AS s (%(key)s, bucket, count)
               SELECT %(key)s, 0, sum(count) FROM folded GROUP BY %(key)s
               ON CONFLICT (%(key)s, bucket) DO UPDATE SET count = s.count + EXCLUDED.count""",
            day=fields.Date.today() - timedelta(days=1), key=SQL(KEY)))
