/**
 * Harbor v2.10 API types, as real Harbor answers (../shared/reference/harbor-api/ holds the recordings they follow).
 * Pure: workflows may import this file.
 */

export type HarborMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HarborRequest {
  method: HarborMethod;
  /** Absolute API path, e.g. `/api/v2.0/registries`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** `text` for the endpoints that answer only text/plain (ping, task logs: Accept: application/json gives 422). */
  accept?: 'json' | 'text';
}

export interface HarborResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Carries one request to Harbor and back; it holds the credentials, so the client never sees them. */
export type HarborTransport = (req: HarborRequest) => Promise<HarborResponse>;

export interface HarborComponent {
  name: string;
  status: string;
  error?: string;
}

export interface HarborHealth {
  /** Overall and every component healthy (Harbor answers 200 either way). */
  healthy: boolean;
  status: string;
  components: HarborComponent[];
  /** Names of the components not healthy, each with its error when Harbor gave one. */
  unhealthy: string[];
}

export interface HarborUser {
  user_id: number;
  username: string;
  sysadmin_flag: boolean;
}

/** `/users/current`: the only reliable login check (GET /projects answers 200 to a wrong password). */
export type LoginCheck = { ok: true; user: HarborUser } | { ok: false; reason: 'unauthorized' | 'robot' };

export interface HarborProject {
  project_id: number;
  name: string;
  metadata: { public?: string };
}

export interface HarborCredential {
  type: string;
  access_key?: string;
  /** Always `*****` in answers. */
  access_secret?: string;
}

export interface HarborRegistry {
  id: number;
  name: string;
  url: string;
  type: string;
  insecure: boolean;
  description?: string;
  credential?: HarborCredential;
  status?: string;
}

/** POST /registries: the credential is NESTED here (unlike ping and PUT, which take flat fields). */
export interface RegistrySpec {
  name: string;
  url: string;
  type?: 'harbor' | 'docker-registry';
  insecure?: boolean;
  description?: string;
  credential?: { accessKey: string; accessSecret: string };
}

export interface HarborPolicy {
  id: number;
  name: string;
  description?: string;
  src_registry?: HarborRegistry | null;
  dest_registry?: HarborRegistry | null;
  dest_namespace?: string;
  dest_namespace_replace_count?: number;
  trigger?: { type: string; trigger_settings?: Record<string, unknown> };
  filters?: unknown[] | null;
  enabled: boolean;
  deletion?: boolean;
  replicate_deletion?: boolean;
  override: boolean;
  speed?: number;
}

/** POST/PUT /replication/policies (PUT takes the whole policy). */
export interface PolicySpec {
  name: string;
  description: string;
  dest_registry: { id: number };
  dest_namespace: string;
  dest_namespace_replace_count: number;
  trigger: { type: 'event_based' | 'manual'; trigger_settings: { cron: string } };
  filters: unknown[];
  deletion: boolean;
  override: boolean;
  enabled: boolean;
  speed: number;
  copy_by_chunk: boolean;
}

export interface HarborExecution {
  id: number;
  policy_id: number;
  /** Lags the tasks by up to ~30 s in real Harbor: read the counts. */
  status: string;
  status_text: string;
  trigger: string;
  total: number;
  succeed: number;
  failed: number;
  in_progress: number;
  stopped: number;
  start_time: string;
  end_time: string;
}

export interface HarborTask {
  id: number;
  execution_id: number;
  status: string;
  operation: string;
  src_resource: string;
  dst_resource: string;
}

export type ExecutionOutcome =
  | { ok: true; execution: HarborExecution }
  | { ok: false; execution: HarborExecution; failedTasks: { task: HarborTask; log: string }[] };

export interface RobotAccess {
  resource: string;
  action: string;
}

export interface RobotPermission {
  kind: 'project' | 'system';
  namespace: string;
  access: RobotAccess[];
}

export interface HarborRobot {
  id: number;
  /** As Harbor shows it: `robot$<name>`, which is also the login. */
  name: string;
  description: string;
  level: string;
  disable: boolean;
  duration: number;
  expires_at: number;
  permissions: RobotPermission[];
}

export interface RobotSpec {
  /** Without the `robot$` prefix. */
  name: string;
  description: string;
  permissions: RobotPermission[];
  /** Days; -1 never expires. */
  duration?: number;
}

export interface CreatedRobot {
  id: number;
  /** `robot$<name>`: the login. */
  name: string;
  secret: string;
}

export interface HarborArtifact {
  digest: string;
  tags: { name: string }[] | null;
}
