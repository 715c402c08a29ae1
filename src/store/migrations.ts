/**
 * The store's schema, one step per entry, applied in order and never edited once released: a change is a new entry.
 * Plain PostgreSQL, so the embedded development store (PGlite) and a production server run the same statements.
 */
export const MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'created invoice ids',
    sql: `
      -- Every invoice id a tenant ever created, and the request that created it: answers a repeated create after
      -- Temporal's retention has deleted the workflow that used to refuse the duplicate id.
      CREATE TABLE invoice_creations (
        tenant        text        NOT NULL,
        invoice_id    text        NOT NULL,
        workflow_id   text        NOT NULL,
        request_hash  text        NOT NULL,
        provider      text        NOT NULL,
        direction     text        NOT NULL,
        amount        bigint      NOT NULL,
        currency      text        NOT NULL,
        initial_state jsonb       NOT NULL,
        started_at    timestamptz,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, invoice_id)
      );`,
  },
  {
    id: 2,
    name: 'event log',
    sql: `
      -- A tenant's next event position; the row lock taken to advance it orders commits, so a reader paging by
      -- position never sees a later position commit before an earlier one.
      CREATE TABLE tenant_event_positions (
        tenant        text   PRIMARY KEY,
        last_position bigint NOT NULL
      );
      CREATE TABLE events (
        id          text        PRIMARY KEY,
        tenant      text        NOT NULL,
        position    bigint      NOT NULL,
        invoice_id  text        NOT NULL,
        sequence    integer     NOT NULL,
        type        text        NOT NULL,
        occurred_at timestamptz NOT NULL,
        data        jsonb       NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant, position),
        UNIQUE (tenant, invoice_id, sequence)
      );
      CREATE INDEX events_by_type ON events (tenant, type, position);`,
  },
  {
    id: 3,
    name: 'webhook endpoints and deliveries',
    sql: `
      CREATE TABLE webhook_endpoints (
        id            text        PRIMARY KEY,
        tenant        text        NOT NULL,
        url           text        NOT NULL,
        event_types   text[]      NOT NULL,
        status        text        NOT NULL,
        failing_since timestamptz,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant);
      -- Encrypted with the payload key; expires_at set on the older secret of a rotation.
      CREATE TABLE webhook_secrets (
        endpoint_id text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        id          text        NOT NULL,
        ciphertext  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz,
        PRIMARY KEY (endpoint_id, id)
      );
      CREATE TABLE webhook_deliveries (
        endpoint_id  text        NOT NULL,
        event_id     text        NOT NULL,
        status       text        NOT NULL,
        attempts     integer     NOT NULL DEFAULT 0,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (endpoint_id, event_id)
      );
      CREATE TABLE webhook_attempts (
        id          bigserial   PRIMARY KEY,
        endpoint_id text        NOT NULL,
        event_id    text        NOT NULL,
        attempt     integer     NOT NULL,
        started_at  timestamptz NOT NULL,
        duration_ms integer     NOT NULL,
        status_code integer,
        error       text,
        ok          boolean     NOT NULL
      );
      CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id);`,
  },
  {
    id: 4,
    name: 'reconciliation reports',
    sql: `
      CREATE TABLE reconciliation_reports (
        id          text        PRIMARY KEY,
        provider    text        NOT NULL,
        since       timestamptz NOT NULL,
        until       timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        summary     jsonb       NOT NULL,
        differences jsonb       NOT NULL,
        csv         text        NOT NULL
      );
      CREATE INDEX reconciliation_reports_by_time ON reconciliation_reports (created_at);`,
  },
  {
    id: 5,
    name: 'reconciliation staging',
    sql: `
      -- Both sides of a reconciliation while it runs, so that neither crosses Temporal as a payload (a busy window
      -- holds more invoices than a workflow's event may carry). Emptied when the report is stored.
      CREATE TABLE reconciliation_items (
        report_id text        NOT NULL,
        side      text        NOT NULL CHECK (side IN ('ours', 'theirs')),
        key       text        NOT NULL,
        data      jsonb       NOT NULL,
        staged_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (report_id, side, key)
      );
      CREATE INDEX reconciliation_items_by_age ON reconciliation_items (staged_at);`,
  },
];
