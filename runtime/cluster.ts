import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { KK_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { TemporalEndpoint } from './temporal';

/**
 * What kk needs from a Temporal cluster before its first run, done on first use by any CLI or worker:
 * - the namespace (TEMPORAL_NAMESPACE): registered when missing; where the caller may not register one (an API key
 *   on a hosted cluster), a clear error saying how to create it;
 * - kk's search attributes (names only, stored in clear) through the operator API; where that is not allowed, kk
 *   runs without them (the UI's list cannot filter by them), as before.
 * A freshly registered namespace or attribute reaches every frontend's cache within seconds: kk waits for it.
 */
const RETENTION_DAYS = 30;
const WAIT_MS = 60_000;

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
/** gRPC status codes (grpc-js is not a dependency of kk's own). */
const status = { NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 } as const;

const ready = new Map<string, Promise<void>>();

export function ensureClusterReady(endpoint: TemporalEndpoint, connection?: Connection): Promise<void> {
  const key = `${endpoint.address}/${endpoint.namespace}`;
  let p = ready.get(key);
  if (!p) {
    p = prepare(endpoint, connection);
    ready.set(key, p);
    p.catch(() => ready.delete(key));
  }
  return p;
}

const code = (err: unknown) => (isGrpcServiceError(err) ? err.code : undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`the Temporal cluster did not show ${what} within ${WAIT_MS / 1000} s`);
    await sleep(500);
  }
}

async function prepare(endpoint: TemporalEndpoint, given?: Connection): Promise<void> {
  const connection = given ?? (await Connection.connect({ address: endpoint.address, tls: endpoint.tls, apiKey: endpoint.apiKey }));
  try {
    await ensureNamespace(connection, endpoint);
    await ensureSearchAttributes(connection, endpoint);
  } finally {
    if (!given) await connection.close();
  }
}

async function ensureNamespace(connection: Connection, { namespace, address }: TemporalEndpoint): Promise<void> {
  const known = await connection.workflowService.describeNamespace({ namespace }).then(
    () => true,
    (err: unknown) => {
      if (code(err) === status.NOT_FOUND) return false;
      throw err;
    },
  );
  if (known) return;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION_DAYS * 86_400_000) });
  } catch (err) {
    if (code(err) === status.ALREADY_EXISTS) return;
    const c = code(err);
    if (c === status.PERMISSION_DENIED || c === status.UNAUTHENTICATED || c === status.UNIMPLEMENTED) {
      throw new Error(
        `the Temporal namespace "${namespace}" does not exist on ${address}, and kk may not create it (${(err as Error).message}); ` +
          `create it once: temporal operator namespace create --namespace ${namespace} --address ${address} (or set TEMPORAL_NAMESPACE to an existing one)`,
      );
    }
    throw err;
  }
  // Other frontends learn of a new namespace when their cache refreshes (about 10 s by default).
  await until(`the new namespace "${namespace}"`, () =>
    connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 }).then(
      () => true,
      () => false,
    ),
  );
}

const INDEXED = { KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST } as const;

async function listed(connection: Connection, namespace: string): Promise<Set<string>> {
  const r = await connection.operatorService.listSearchAttributes({ namespace });
  return new Set(Object.keys(r.customAttributes ?? {}));
}

async function ensureSearchAttributes(connection: Connection, { namespace }: TemporalEndpoint): Promise<void> {
  let known: Set<string>;
  try {
    known = await listed(connection, namespace);
  } catch {
    return; // no operator API for this caller: kk sets no search attributes
  }
  const missing = KK_SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name));
  if (!missing.length) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED[k.type as keyof typeof INDEXED]])),
    });
  } catch (err) {
    if (code(err) === status.ALREADY_EXISTS) return;
    process.stderr.write(`kk: could not register kk's search attributes on namespace ${namespace} (${(err as Error).message}); runs are not filterable by them in the UI\n`);
    return;
  }
  // Listed at once, but a frontend validates queries and starts against its cache (refreshed within seconds).
  await until(`kk's search attributes on namespace ${namespace}`, async () => {
    const now = await listed(connection, namespace).catch(() => new Set<string>());
    if (!KK_SEARCH_ATTRIBUTES.every((k) => now.has(k.name))) return false;
    const query = KK_SEARCH_ATTRIBUTES.map((k) => `${k.name} = "kk"`).join(' AND ');
    return connection.workflowService.listWorkflowExecutions({ namespace, query, pageSize: 1 }).then(
      () => true,
      () => false,
    );
  });
}
