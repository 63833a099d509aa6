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
    ]
}
