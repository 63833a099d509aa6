/// The PostgreSQL store's tables: the SQLite store's schema as it stands after its migrations
/// (`SQLiteServerStore.migrator`), in PostgreSQL's types, with the same names and the same
/// rules (what is unique, what a revoked device keeps, what the relay usage counts). Later
/// changes append a version here; `PostgresServerStore` applies the missing ones at start, under
/// an advisory lock so that instances starting together do not race.
enum PostgresSchema {
    /// The lock every instance takes to migrate (an arbitrary number, "kith" in ASCII).
    static let migrationLock: Int64 = 0x6B697468
    /// The first key of the per-account locks of device registration (two-key advisory locks,
    /// which never collide with the one-key migration lock).
    static let registrationLocks: Int32 = 1
    /// The first key of the per-device locks of relay commits.
    static let deviceLocks: Int32 = 2

    /// Each version's statements, oldest first; version N is `versions[N - 1]`.
    static let versions: [[String]] = [
        [
            """
            CREATE TABLE account (
                name TEXT PRIMARY KEY,
                passwordHash TEXT NOT NULL,
                createdAtMillis BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE device (
                id TEXT PRIMARY KEY,
                account TEXT NOT NULL REFERENCES account(name),
                terminalType INTEGER NOT NULL,
                typeCode TEXT NOT NULL,
                ordinal INTEGER NOT NULL,
                name TEXT NOT NULL,
                key BYTEA NOT NULL UNIQUE,
                clientVersion TEXT NOT NULL,
                addresses TEXT NOT NULL,
                publicAddresses TEXT NOT NULL DEFAULT '',
                revoked BOOLEAN NOT NULL DEFAULT false,
                createdAtMillis BIGINT NOT NULL,
                lastSeenMillis BIGINT NOT NULL,
                registered BIGSERIAL NOT NULL,
                UNIQUE (account, typeCode, ordinal)
            )
            """,
            """
            CREATE TABLE session (
                tokenHash BYTEA PRIMARY KEY,
                deviceID TEXT NOT NULL REFERENCES device(id),
                expiresAtMillis BIGINT NOT NULL,
                revoked BOOLEAN NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE relay (
                id BIGSERIAL PRIMARY KEY,
                sender TEXT NOT NULL,
                receiver TEXT NOT NULL REFERENCES device(id),
                payload BYTEA NOT NULL,
                code BIGINT,
                scope TEXT,
                fromAccount TEXT,
                createdAtMillis BIGINT NOT NULL
            )
            """,
            "CREATE INDEX relay_by_receiver ON relay (receiver, id)",
            """
            CREATE TABLE contact (
                low TEXT NOT NULL REFERENCES account(name),
                high TEXT NOT NULL REFERENCES account(name),
                requester TEXT NOT NULL,
                accepted BOOLEAN NOT NULL DEFAULT false,
                createdAtMillis BIGINT NOT NULL,
                PRIMARY KEY (low, high)
            )
            """,
            "CREATE INDEX contact_by_high ON contact (high)",
            """
            CREATE TABLE message_code (
                code BIGSERIAL PRIMARY KEY,
                sender TEXT NOT NULL,
                messageID BYTEA NOT NULL,
                createdAtMillis BIGINT NOT NULL,
                UNIQUE (sender, messageID)
            )
            """,
            """
            CREATE TABLE roster (
                seq BIGSERIAL PRIMARY KEY,
                account TEXT NOT NULL REFERENCES account(name),
                document BYTEA NOT NULL,
                kept BOOLEAN NOT NULL
            )
            """,
            "CREATE INDEX roster_by_account ON roster (account, seq)",
            """
            CREATE TABLE policy (
                deviceID TEXT PRIMARY KEY,
                account TEXT NOT NULL REFERENCES account(name),
                document BYTEA NOT NULL
            )
            """,
            """
            CREATE TABLE account_link (
                linked TEXT PRIMARY KEY REFERENCES account(name) ON DELETE CASCADE,
                master TEXT NOT NULL REFERENCES account(name) ON DELETE CASCADE,
                createdAtMillis BIGINT NOT NULL
            )
            """,
            "CREATE INDEX account_link_by_master ON account_link (master)",
            // RelayQuota: what waits per receiving and per sending device, kept exact by triggers
            // whatever deletes a payload (an acknowledgement, a revocation, an account removed).
            """
            CREATE TABLE relay_usage (
                device TEXT NOT NULL,
                role TEXT NOT NULL,
                count BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                PRIMARY KEY (device, role)
            )
            """,
            """
            CREATE FUNCTION relay_usage_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO relay_usage VALUES (NEW.receiver, 'receiver', 1, length(NEW.payload))
                    ON CONFLICT (device, role) DO UPDATE
                    SET count = relay_usage.count + 1, bytes = relay_usage.bytes + length(NEW.payload);
                INSERT INTO relay_usage VALUES (NEW.sender, 'sender', 1, length(NEW.payload))
                    ON CONFLICT (device, role) DO UPDATE
                    SET count = relay_usage.count + 1, bytes = relay_usage.bytes + length(NEW.payload);
                RETURN NEW;
            END
            $$
            """,
            """
            CREATE FUNCTION relay_usage_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE relay_usage SET count = count - 1, bytes = bytes - length(OLD.payload)
                    WHERE (device = OLD.receiver AND role = 'receiver') OR (device = OLD.sender AND role = 'sender');
                DELETE FROM relay_usage WHERE device IN (OLD.receiver, OLD.sender) AND count <= 0;
                RETURN OLD;
            END
            $$
            """,
            "CREATE TRIGGER relay_usage_insert AFTER INSERT ON relay FOR EACH ROW EXECUTE FUNCTION relay_usage_insert()",
            "CREATE TRIGGER relay_usage_delete AFTER DELETE ON relay FOR EACH ROW EXECUTE FUNCTION relay_usage_delete()",
            """
            CREATE TABLE watch_session (
                tokenHash BYTEA PRIMARY KEY,
                account TEXT NOT NULL REFERENCES account(name) ON DELETE CASCADE,
                expiresAtMillis BIGINT NOT NULL,
                revoked BOOLEAN NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE watch_message (
                account TEXT NOT NULL,
                contact TEXT NOT NULL,
                code BIGINT NOT NULL,
                PRIMARY KEY (account, contact, code)
            )
            """,
            """
            CREATE TABLE watch_report (
                account TEXT NOT NULL,
                contact TEXT NOT NULL,
                upToCode BIGINT NOT NULL,
                unread INTEGER NOT NULL,
                PRIMARY KEY (account, contact)
            )
            """,
        ],
        [
            // `kith server status`: each running instance's latest report of itself.
            """
            CREATE TABLE server_instance (
                id TEXT PRIMARY KEY,
                address TEXT NOT NULL,
                startedAtMillis BIGINT NOT NULL,
                seenAtMillis BIGINT NOT NULL,
                sessions INTEGER NOT NULL
            )
            """,
            // Who is online on which instance (`SharedServerStore`).
            """
            CREATE TABLE device_presence (
                deviceID TEXT PRIMARY KEY,
                instance TEXT NOT NULL
            )
            """,
        ],
        [
            // A relay commit's statements, in two calls (`PostgresServerStore.commitRelays`): each
            // statement is a round trip to the database, and those, not the work, were a commit's
            // time. The decisions about each item stay in Swift, between the two calls.
            // First: the locks of every device whose queue or usage changes (in the locks' order:
            // see `commitRelays`), the deletion of what was acknowledged, ids for `draw` items
            // (drawn under the locks, so one receiver's ids increase in commit order), and for
            // each device of the items where its queue stands, whether it is there and its usage.
            """
            CREATE FUNCTION relay_commit_prepare(p_locked TEXT[], p_acked_ids BIGINT[], p_acked_to TEXT[],
                                                 p_devices TEXT[], p_draw INTEGER)
            RETURNS TABLE (o_device TEXT, o_last BIGINT, o_present BOOLEAN, o_receiving BIGINT, o_receiving_bytes BIGINT,
                           o_sending BIGINT, o_sending_bytes BIGINT, o_ids BIGINT[])
            LANGUAGE plpgsql AS $$
            DECLARE
                drawn BIGINT[];
            BEGIN
                -- Deletions alone need not wait for the disk: one lost in a crash only means its
                -- payload is delivered again, which receivers handle (spec §Relay); they hold
                -- the locks the senders' commits wait for, so they hold them shorter.
                IF p_draw = 0 THEN
                    PERFORM set_config('synchronous_commit', 'off', true);
                END IF;
                PERFORM pg_advisory_xact_lock(\(PostgresSchema.deviceLocks), k)
                FROM (SELECT DISTINCT hashtext(d) AS k
                      FROM (SELECT unnest(p_locked) AS d UNION SELECT r.sender FROM relay r WHERE r.id = ANY(p_acked_ids)) AS devices
                      ORDER BY 1) AS ordered;
                DELETE FROM relay r WHERE (r.id, r.receiver) IN (SELECT * FROM unnest(p_acked_ids, p_acked_to));
                SELECT coalesce(array_agg(v ORDER BY v), '{}') INTO drawn
                FROM (SELECT nextval(pg_get_serial_sequence('relay', 'id')) AS v FROM generate_series(1, p_draw)) AS g;
                RETURN QUERY
                SELECT d, (SELECT max(r.id) FROM relay r WHERE r.receiver = d), EXISTS (SELECT 1 FROM device x WHERE x.id = d),
                       ru.count, ru.bytes, su.count, su.bytes, drawn
                FROM unnest(p_devices) AS d
                LEFT JOIN relay_usage ru ON ru.device = d AND ru.role = 'receiver'
                LEFT JOIN relay_usage su ON su.device = d AND su.role = 'sender';
            END
            $$
            """,
            // Second: the items stored with the ids drawn (an empty text stands for none:
            // postgres-nio's arrays hold no NULL, and no account name or code is empty), and the
            // notices sent (heard once the transaction commits, in this order).
            """
            CREATE FUNCTION relay_commit_store(p_ids BIGINT[], p_senders TEXT[], p_receivers TEXT[], p_payloads BYTEA[],
                                               p_codes TEXT[], p_scopes TEXT[], p_from_accounts TEXT[], p_created BIGINT,
                                               p_channel TEXT, p_notices TEXT[])
            RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO relay (id, sender, receiver, payload, code, scope, fromAccount, createdAtMillis)
                SELECT i, s, r, p, NULLIF(c, '')::bigint, NULLIF(sc, ''), NULLIF(f, ''), p_created
                FROM unnest(p_ids, p_senders, p_receivers, p_payloads, p_codes, p_scopes, p_from_accounts) AS t(i, s, r, p, c, sc, f);
                PERFORM pg_notify(p_channel, n) FROM unnest(p_notices) WITH ORDINALITY AS t(n, i) ORDER BY i;
            END
            $$
            """,
        ],
        [
            // The relay commit's statements and the `relay_usage` triggers find their rows by
            // key. The plans PL/pgSQL keeps were made for tables the planner had no statistics
            // of, and chose to read all of `relay` to delete a few acknowledged payloads and all
            // of `relay_usage` to count one: under a stream of relays those tables hold many
            // dead rows between vacuums, and the scans were much of a commit's time (0.5 of
            // 1.3 ms, measured with auto_explain in `Tools/bench/instances`). The triggers get
            // the setting too: they also fire outside the commit (a revocation, an account
            // removed), and a plan made there would be kept for the commit's calls.
            "ALTER FUNCTION relay_commit_prepare(TEXT[], BIGINT[], TEXT[], TEXT[], INTEGER) SET enable_seqscan = off",
            "ALTER FUNCTION relay_commit_store(BIGINT[], TEXT[], TEXT[], BYTEA[], TEXT[], TEXT[], TEXT[], BIGINT, TEXT, TEXT[]) SET enable_seqscan = off",
            "ALTER FUNCTION relay_usage_insert() SET enable_seqscan = off",
            "ALTER FUNCTION relay_usage_delete() SET enable_seqscan = off",
        ],
        [
            // The commit's functions keep one generic plan per statement. PostgreSQL's plan cache
            // otherwise planned most of their statements again on every call (custom plans):
            // with pg_stat_statements' track_planning in `Tools/bench/instances`, 2,836 plans of
            // the acknowledged payloads' deletion in 3,628 calls and 844 of the queue query at
            // 0.45 ms each, about 0.24 ms of planning in a 1.05 ms `relay_commit_prepare`. With
            // sequential scans off (version 4) the generic plans find rows by key.
            "ALTER FUNCTION relay_commit_prepare(TEXT[], BIGINT[], TEXT[], TEXT[], INTEGER) SET plan_cache_mode = force_generic_plan",
            "ALTER FUNCTION relay_commit_store(BIGINT[], TEXT[], TEXT[], BYTEA[], TEXT[], TEXT[], TEXT[], BIGINT, TEXT, TEXT[]) SET plan_cache_mode = force_generic_plan",
            "ALTER FUNCTION relay_usage_insert() SET plan_cache_mode = force_generic_plan",
            "ALTER FUNCTION relay_usage_delete() SET plan_cache_mode = force_generic_plan",
        ],
    ]
}
