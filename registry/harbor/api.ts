import type {
  CreatedRobot,
  ExecutionOutcome,
  HarborArtifact,
  HarborExecution,
  HarborHealth,
  HarborPolicy,
  HarborProject,
  HarborRegistry,
  HarborRequest,
  HarborResponse,
  HarborRobot,
  HarborTask,
  HarborTransport,
  HarborUser,
  LoginCheck,
  PolicySpec,
  RegistrySpec,
  RobotPermission,
  RobotSpec,
} from './types';

/**
 * A Harbor v2.10 API client written against real Harbor's recorded answers, over any transport (curl on a node over
 * SSH in production, a stub in tests). Pure: no Node built-ins, so workflows may import its types and helpers.
 */

const API = '/api/v2.0';

/** A non-2xx answer, with Harbor's error code and message (`{"errors":[{"code","message"}]}`). */
export class HarborApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string,
    readonly harborMessage: string,
  ) {
    super(`${method} ${path}: ${status} ${code}${harborMessage ? ` ${harborMessage}` : ''}`);
    this.name = 'HarborApiError';
  }
}

export function isHarborApiError(err: unknown, status?: number): err is HarborApiError {
  return err instanceof HarborApiError && (status === undefined || err.status === status);
}

/** The id at the end of a create call's `Location: /api/v2.0/<resource>/<id>` (create calls answer 201 with no body). */
export function idFromLocation(res: HarborResponse, what: string): number {
  const id = Number(/\/(\d+)$/.exec(res.headers.location ?? '')?.[1]);
  if (!Number.isInteger(id) || id <= 0) throw new Error(`${what}: 201 without a usable Location header (${res.headers.location ?? 'none'})`);
  return id;
}

/** Failure, or the outcome of a ping/registry check: a dead Harbor URL answers 500, a refused credential 400. */
export type PingResult = { ok: true } | { ok: false; reason: 'unreachable' | 'unhealthy' | 'invalid'; message: string };

/** Flat fields of POST /registries/ping and PUT /registries/{id}; a nested `credential` is silently ignored there. */
export interface RegistryFlatFields {
  name?: string;
  description?: string;
  type?: string;
  url?: string;
  insecure?: boolean;
  credential_type?: string;
  access_key?: string;
  access_secret?: string;
}

export interface AwaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Injected in tests (and by a workflow); defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const PAGE_SIZE = 100;
const FINAL = new Set(['Succeed', 'Failed', 'Stopped']);

export class HarborApi {
  constructor(private readonly transport: HarborTransport) {}

  private async call(req: HarborRequest, ok: number[] = [200]): Promise<HarborResponse> {
    const res = await this.transport(req);
    if (!ok.includes(res.status)) {
      let code = '';
      let message = '';
      try {
        const first = (JSON.parse(res.body) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
        code = first?.code ?? '';
        message = first?.message ?? '';
      } catch {
        message = res.body.slice(0, 300);
      }
      throw new HarborApiError(req.method, req.path, res.status, code, message);
    }
    return res;
  }

  private async json<T>(req: HarborRequest): Promise<T> {
    return JSON.parse((await this.call(req)).body) as T;
  }

  /** Every page of a list, by page/page_size and X-Total-Count (Harbor's default page is 10 entries). */
  async listAll<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; ; page++) {
      const res = await this.call({ method: 'GET', path, query: { ...query, page, page_size: PAGE_SIZE } });
      const items = JSON.parse(res.body) as T[];
      all.push(...items);
      // X-Total-Count decides (a server may cap page_size below what was asked); a short page only without it.
      const total = Number(res.headers['x-total-count'] ?? NaN);
      if (items.length === 0 || (Number.isFinite(total) ? all.length >= total : items.length < PAGE_SIZE)) return all;
    }
  }

  /** Overall status and every component; Harbor answers 200 even when unhealthy, and refreshes each 10 s. */
  async health(): Promise<HarborHealth> {
    const h = await this.json<{ status: string; components?: { name: string; status: string; error?: string }[] }>({ method: 'GET', path: `${API}/health` });
    const components = h.components ?? [];
    const unhealthy = components.filter((c) => c.status !== 'healthy').map((c) => (c.error ? `${c.name} (${c.error})` : c.name));
    return { healthy: h.status === 'healthy' && components.length > 0 && unhealthy.length === 0, status: h.status, components, unhealthy };
  }

  /** Whether the transport's credential logs in: 401 for a wrong password or unknown user, 412 for a robot. */
  async currentUser(): Promise<LoginCheck> {
    try {
      return { ok: true, user: await this.json<HarborUser>({ method: 'GET', path: `${API}/users/current` }) };
    } catch (err) {
      if (isHarborApiError(err, 401)) return { ok: false, reason: 'unauthorized' };
      if (isHarborApiError(err, 412)) return { ok: false, reason: 'robot' };
      throw err;
    }
  }

  async systemInfo(): Promise<{ harbor_version: string } & Record<string, unknown>> {
    return this.json({ method: 'GET', path: `${API}/systeminfo` });
  }

  async getProject(name: string): Promise<HarborProject | undefined> {
    try {
      return await this.json<HarborProject>({ method: 'GET', path: `${API}/projects/${encodeURIComponent(name)}` });
    } catch (err) {
      if (isHarborApiError(err, 404)) return undefined;
      throw err;
    }
  }

  /** Creates the project unless it exists (409 means it does); private unless told otherwise. */
  async ensureProject(name: string, options: { public?: boolean } = {}): Promise<{ created: boolean; project: HarborProject }> {
    const body = { project_name: name, metadata: { public: String(options.public ?? false) }, storage_limit: -1 };
    let created = true;
    try {
      await this.call({ method: 'POST', path: `${API}/projects`, body }, [201]);
    } catch (err) {
      if (!isHarborApiError(err, 409)) throw err;
      created = false;
    }
    const project = await this.getProject(name);
    if (!project) throw new Error(`project ${name}: created but not found`);
    return { created, project };
  }

  listRegistries(): Promise<HarborRegistry[]> {
    return this.listAll<HarborRegistry>(`${API}/registries`);
  }

  /** Harbor pings the target first: wrong credential → 400, dead harbor URL → 500, duplicate name → 409. */
  async createRegistry(spec: RegistrySpec): Promise<number> {
    const body: Record<string, unknown> = { name: spec.name, type: spec.type ?? 'harbor', url: spec.url, insecure: spec.insecure ?? false, description: spec.description ?? '' };
    if (spec.credential) body.credential = { type: 'basic', access_key: spec.credential.accessKey, access_secret: spec.credential.accessSecret };
    return idFromLocation(await this.call({ method: 'POST', path: `${API}/registries`, body }, [201]), `registry ${spec.name}`);
  }

  /** PUT takes FLAT fields, only those to change; Harbor pings with the result (wrong secret → 400). */
  async updateRegistry(id: number, fields: RegistryFlatFields): Promise<void> {
    await this.call({ method: 'PUT', path: `${API}/registries/${id}`, body: fields });
  }

  /** 412 while a policy still references it: delete the policies first. */
  async deleteRegistry(id: number): Promise<void> {
    await this.call({ method: 'DELETE', path: `${API}/registries/${id}` });
  }

  /** Pings a saved registry (`{id}`, optionally with flat overrides) or a candidate (flat fields), never nested. */
  async pingRegistry(target: { id: number } & RegistryFlatFields): Promise<PingResult>;
  async pingRegistry(target: RegistrySpec): Promise<PingResult>;
  async pingRegistry(target: ({ id: number } & RegistryFlatFields) | RegistrySpec): Promise<PingResult> {
    const body: RegistryFlatFields & { id?: number } =
      'id' in target
        ? target
        : {
            type: target.type ?? 'harbor',
            url: target.url,
            insecure: target.insecure ?? false,
            ...(target.credential ? { credential_type: 'basic', access_key: target.credential.accessKey, access_secret: target.credential.accessSecret } : {}),
          };
    try {
      await this.call({ method: 'POST', path: `${API}/registries/ping`, body });
      return { ok: true };
    } catch (err) {
      if (isHarborApiError(err, 500)) return { ok: false, reason: 'unreachable', message: `${err.message} (Harbor answers 500 when the peer's URL does not answer)` };
      if (isHarborApiError(err, 400) && /unhealthy/.test(err.harborMessage)) return { ok: false, reason: 'unhealthy', message: `${err.message} (the peer refused the credential, or its registry is down)` };
      if (isHarborApiError(err, 400)) return { ok: false, reason: 'invalid', message: err.message };
      throw err;
    }
  }

  listPolicies(): Promise<HarborPolicy[]> {
    return this.listAll<HarborPolicy>(`${API}/replication/policies`);
  }

  async createPolicy(spec: PolicySpec): Promise<number> {
    return idFromLocation(await this.call({ method: 'POST', path: `${API}/replication/policies`, body: spec }, [201]), `policy ${spec.name}`);
  }

  async updatePolicy(id: number, spec: PolicySpec): Promise<void> {
    await this.call({ method: 'PUT', path: `${API}/replication/policies/${id}`, body: spec });
  }

  async deletePolicy(id: number): Promise<void> {
    await this.call({ method: 'DELETE', path: `${API}/replication/policies/${id}` });
  }

  /** Starts a manual execution; 201 even when jobservice is down (the execution then fails with status_text). */
  async startExecution(policyId: number): Promise<number> {
    return idFromLocation(await this.call({ method: 'POST', path: `${API}/replication/executions`, body: { policy_id: policyId } }, [201]), `execution of policy ${policyId}`);
  }

  getExecution(id: number): Promise<HarborExecution> {
    return this.json({ method: 'GET', path: `${API}/replication/executions/${id}` });
  }

  /** The newest executions of a policy first. */
  async listExecutions(policyId: number, pageSize = 10): Promise<HarborExecution[]> {
    return this.json({ method: 'GET', path: `${API}/replication/executions`, query: { policy_id: policyId, page: 1, page_size: pageSize } });
  }

  /**
   * A policy's backfill as Harbor holds it: `done` when a manual execution finished well (by its counts), else the id of
   * a manual execution still running (an interrupted attempt started it: await it, never start a second), else none.
   * Asked with Harbor's own `trigger=manual` filter over every page, so any number of event-based runs cannot hide it.
   */
  async backfill(policyId: number): Promise<{ done: true } | { done: false; running?: number }> {
    const manual = (await this.listAll<HarborExecution>(`${API}/replication/executions`, { policy_id: policyId, trigger: 'manual' })).filter((e) => e.trigger === 'manual');
    if (manual.some((e) => executionVerdict(e) === 'succeeded')) return { done: true };
    const running = manual.find((e) => executionVerdict(e) === 'running');
    return running ? { done: false, running: running.id } : { done: false };
  }

  listTasks(executionId: number): Promise<HarborTask[]> {
    return this.listAll<HarborTask>(`${API}/replication/executions/${executionId}/tasks`);
  }

  /** text/plain only: asking for JSON gives 422. */
  async taskLog(executionId: number, taskId: number): Promise<string> {
    return (await this.call({ method: 'GET', path: `${API}/replication/executions/${executionId}/tasks/${taskId}/log`, accept: 'text' })).body;
  }

  /**
   * Waits for an execution by its task counts: real Harbor's `status` stays InProgress up to ~30 s after the tasks
   * finished. A failure comes back with the logs of the failed tasks.
   */
  async awaitExecution(id: number, options: AwaitOptions): Promise<ExecutionOutcome> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = options.now ?? Date.now;
    const deadline = now() + options.timeoutMs;
    for (;;) {
      const execution = await this.getExecution(id);
      const verdict = executionVerdict(execution);
      if (verdict === 'succeeded') return { ok: true, execution };
      if (verdict === 'failed') {
        const tasks = await this.listTasks(id);
        const failedTasks = [];
        for (const task of tasks.filter((t) => t.status !== 'Succeed')) failedTasks.push({ task, log: await this.taskLog(id, task.id).catch((err: Error) => `(log unavailable: ${err.message})`) });
        return { ok: false, execution, failedTasks };
      }
      if (now() >= deadline) {
        throw new Error(`replication execution ${id} still running after ${Math.round(options.timeoutMs / 1000)}s: ${execution.succeed}/${execution.total} tasks succeeded, ${execution.in_progress} in progress, status ${execution.status}`);
      }
      await sleep(options.intervalMs ?? 1000);
    }
  }

  listRobots(): Promise<HarborRobot[]> {
    return this.listAll<HarborRobot>(`${API}/robots`);
  }

  /** A system robot; 201 with its secret (shown only here and on refresh); 409 when the name exists. */
  async createRobot(spec: RobotSpec): Promise<CreatedRobot> {
    const res = await this.call({ method: 'POST', path: `${API}/robots`, body: { name: spec.name, description: spec.description, level: 'system', disable: false, duration: spec.duration ?? -1, permissions: spec.permissions } }, [201]);
    const body = JSON.parse(res.body) as CreatedRobot;
    return { id: body.id, name: body.name, secret: body.secret };
  }

  async updateRobot(id: number, spec: RobotSpec): Promise<void> {
    await this.call({ method: 'PUT', path: `${API}/robots/${id}`, body: { name: spec.name, description: spec.description, level: 'system', disable: false, duration: spec.duration ?? -1, permissions: spec.permissions } });
  }

  /** Sets the robot's secret (8-128 characters, upper, lower and a digit), or has Harbor generate one; returns it. */
  async refreshRobotSecret(id: number, secret?: string): Promise<string> {
    const res = await this.call({ method: 'PATCH', path: `${API}/robots/${id}`, body: secret === undefined ? {} : { secret } });
    return (JSON.parse(res.body) as { secret: string }).secret;
  }

  async deleteRobot(id: number): Promise<void> {
    await this.call({ method: 'DELETE', path: `${API}/robots/${id}` });
  }

  /**
   * Changes a password (Harbor reads harbor_admin_password only on first start, so a changed one must go through
   * here). Wrong old password → 403, weak or unchanged new one → 400.
   */
  async changePassword(userId: number, oldPassword: string, newPassword: string): Promise<void> {
    await this.call({ method: 'PUT', path: `${API}/users/${userId}/password`, body: { old_password: oldPassword, new_password: newPassword } });
  }

  /** The artifact with this tag or digest in `project/repo`, or undefined (repository names are double-encoded). */
  async getArtifact(repository: string, reference: string): Promise<HarborArtifact | undefined> {
    const [project, ...rest] = repository.split('/');
    try {
      return await this.json<HarborArtifact>({ method: 'GET', path: `${API}/projects/${project}/repositories/${encodeURIComponent(encodeURIComponent(rest.join('/')))}/artifacts/${encodeURIComponent(reference)}` });
    } catch (err) {
      if (isHarborApiError(err, 404)) return undefined;
      throw err;
    }
  }
}

/** Done by the counts (all tasks finished) or by a final status (failures before any task, or nothing to copy). */
export function executionVerdict(e: HarborExecution): 'running' | 'succeeded' | 'failed' {
  if (e.total > 0 && e.in_progress === 0 && e.succeed + e.failed + e.stopped >= e.total) return e.failed > 0 || e.stopped > 0 ? 'failed' : 'succeeded';
  if (FINAL.has(e.status)) return e.status === 'Succeed' ? 'succeeded' : 'failed';
  return 'running';
}

/**
 * What the replication robot may do: push and pull on every project, and delete (repository and artifact), without
 * which deletion replication fails with 401 on the peer (recorded). Project creation lets replication create a
 * missing destination project even where project_creation_restriction is not "everyone".
 */
export const REPLICATION_ROBOT_PERMISSIONS: RobotPermission[] = [
  { kind: 'system', namespace: '/', access: [{ resource: 'project', action: 'create' }] },
  {
    kind: 'project',
    namespace: '*',
    access: [
      { resource: 'repository', action: 'push' },
      { resource: 'repository', action: 'pull' },
      { resource: 'repository', action: 'delete' },
      { resource: 'artifact', action: 'delete' },
    ],
  },
];

export function replicationRobotSpec(name = 'kk-replicator'): RobotSpec {
  return { name, description: 'kk: replication mesh account (managed by kk)', permissions: REPLICATION_ROBOT_PERMISSIONS, duration: -1 };
}

/** Whether a robot's permissions cover the wanted ones (order-insensitive), so a re-run leaves it alone. */
export function robotHasPermissions(robot: Pick<HarborRobot, 'permissions'>, wanted: RobotPermission[]): boolean {
  const key = (p: RobotPermission) => p.access.map((a) => `${p.kind}|${p.namespace}|${a.resource}|${a.action}`);
  const have = new Set(robot.permissions.flatMap(key));
  return wanted.flatMap(key).every((k) => have.has(k));
}
