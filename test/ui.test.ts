import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { answers, freePorts, type DevServerInfo } from '../runtime/dev-server';
import { MASK } from '../runtime/mask-secrets';
import { ensureTemporalCli } from '../runtime/temporal-cli';
import { kk, spawnKk, waitFor, workdirClient, type KkResult } from './support/kk';
import { startSshd, type TestSshd } from './support/sshd';

/**
 * The operator's window, in a real headless Chromium (Debian's, driven by playwright-core; nothing is downloaded):
 * `kk facts` against a loopback sshd host that logs in with a password; the embedded UI finds the run by a search
 * attribute, shows the node's current details and step summary, and shows the activity input through kk's codec
 * endpoint with the password masked; a UI without the endpoint, on the same data, shows ciphertext only.
 * Screenshots go to test/artifacts/.
 */
const ARTIFACTS = path.join(__dirname, 'artifacts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-ui-'));
const workdir = path.join(dir, 'work');
const gate = path.join(dir, 'gate');
// A user of this test's own: the shared test users' passwords are reset by other test files.
const USER = 'kkuitest';
const password = `pw-${randomBytes(12).toString('base64url')}`;
let sshd: TestSshd;
let browser: Browser;
let client: Client | undefined;
let plainServer: ChildProcess | undefined;
let run: { done: Promise<KkResult> } | undefined;

function ensureUser(): void {
  if (process.getuid?.() !== 0) throw new Error('the UI test runs as root (it creates a test user)');
  try {
    execFileSync('id', [USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', USER]);
  }
  execFileSync('chpasswd', { input: `${USER}:${password}\n` });
}

/** Every command the host runs waits while the gate file exists: the node workflow stays mid-step for the browser. */
function heldWrapper(): string {
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'wrapper.sh');
  fs.writeFileSync(file, `#!/bin/sh\nwhile [ -f ${gate} ]; do sleep 0.2; done\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`, { mode: 0o755 });
  return file;
}

function inventory(): string {
  const file = path.join(dir, 'inventory.yaml');
  fs.writeFileSync(
    file,
    `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata:
  name: ui-test
spec:
  hosts:
    web1:
      connector:
        host: 127.0.0.1
        port: ${sshd.port}
        user: ${USER}
        password: "${password}"
`,
  );
  return file;
}

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The visible text of the page and its frames (the UI renders current details as markdown in an iframe). */
async function pageText(page: Page): Promise<string> {
  const parts = await Promise.all(page.frames().map((f) => f.innerText('body').catch(() => '')));
  return parts.join('\n');
}

/** The HTML of the page and every frame. */
async function pageHtml(page: Page): Promise<string> {
  return (await Promise.all(page.frames().map((f) => f.content().catch(() => '')))).join('\n');
}

/** Waits until the page's visible text matches. */
async function waitText(page: Page, what: string, re: RegExp, timeoutMs = 30_000): Promise<string> {
  let last = '';
  try {
    return await waitFor(what, async () => {
      last = await pageText(page);
      return re.test(last) ? last : undefined;
    }, timeoutMs);
  } catch (err) {
    // What the page said instead, for whoever reads the failure (the password never reaches it: asserted below).
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, `failed-${what.replace(/\W+/g, '-')}.txt`), last);
    await shot(page, `failed-${what.replace(/\W+/g, '-')}`);
    throw err;
  }
}

/** Opens the event history and expands the ActivityTaskScheduled event, whose input is the host (password included). */
async function openScheduledActivityInput(page: Page): Promise<void> {
  await page.getByTestId('history-tab').click();
  const row = page.getByText(/Activity\s*Task\s*Scheduled/i).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
}

before(async () => {
  ensureUser();
  fs.writeFileSync(gate, '');
  sshd = await startSshd({ forceCommand: heldWrapper() });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  fs.rmSync(gate, { force: true });
  await run?.done;
  await client?.connection.close();
  await browser?.close();
  plainServer?.kill('SIGTERM');
  await kk(['server', 'stop', '--workdir', workdir]);
  await sshd?.stop();
});

describe('the Temporal UI', () => {
  let info: DevServerInfo;
  let runId = '';
  const child = () => `${runId}/node/web1`;

  it('finds the run by a search attribute, shows the node’s current details and step, and its input decoded with the password masked', async () => {
    run = spawnKk(['facts', '-i', inventory(), '--workdir', workdir]);
    client = await waitFor('the embedded server', async () => fs.existsSync(path.join(workdir, 'temporal', 'server.json')) && workdirClient(workdir), 120_000);
    info = JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as DevServerInfo;
    assert.ok(info.uiUrl && info.codecUrl, 'the embedded server has a UI and a codec endpoint');
    runId = await waitFor('the host mid-step', async () => {
      for await (const w of client!.workflow.list({ query: `WorkflowType = 'factsWorkflow'` })) {
        const d = await client!.workflow.getHandle(`${w.workflowId}/node/web1`).describe().catch(() => undefined);
        if (d?.raw.pendingActivities?.length) return w.workflowId;
      }
      return undefined;
    }, 60_000);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const decoded: string[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${info.codecUrl}/decode`)) void r.text().then((t) => decoded.push(t), () => undefined);
    });

    // The list, filtered by kk's search attributes.
    await page.goto(`${info.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`KkHosts = "web1" AND KkPhase = "gatherFacts"`)}`);
    await waitText(page, 'the node workflow in the filtered list', new RegExp(`${runId}/node/web1`));
    await shot(page, 'ui-1-list-by-search-attribute');
    await page.goto(`${info.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`KkPhase = "gather-facts"`)}`);
    await waitText(page, 'the run in the list by phase', new RegExp(`${runId}(?!/)`));

    // The node's page: current details (from the worker, decoded) and the step's summary.
    await page.goto(`${info.uiUrl}/namespaces/default/workflows/${encodeURIComponent(child())}`);
    await waitText(page, 'the step summary', /gather facts on web1/);
    await page.getByTestId('user-metadata-tab').click();
    const details = await waitText(page, 'the current details', /phase:?\s*gatherFacts[\s\S]*under way[\s\S]*gather facts on web1/i);
    assert.match(details, /gather facts on web1/);
    await shot(page, 'ui-2-node-current-details');

    // The workflow input and the scheduled activity's input, through the codec: the host, its password masked.
    await openScheduledActivityInput(page);
    // Twice: the workflow's input at the top, and the expanded ActivityTaskScheduled event's input below it.
    const text = await waitText(page, 'the activity input decoded', new RegExp(`Activity Task Scheduled[\\s\\S]*"password":\\s*"${MASK}"`));
    assert.match(text, /"user":\s*"kkuitest"/);
    await shot(page, 'ui-3-activity-input-masked');
    const html = await pageHtml(page);
    assert.ok(!html.includes(password), 'the password appears in the page');
    assert.ok(decoded.length > 0, 'the UI decoded through kk’s endpoint');
    for (const body of decoded) assert.ok(!body.includes(Buffer.from(password).toString('base64')) && !body.includes(password), 'the codec endpoint answered a password');
    await page.close();
  });

  it('without the codec endpoint, the same input is ciphertext', async () => {
    fs.rmSync(gate);
    const r = await run!.done;
    assert.equal(r.code, 0, r.stderr);
    await client!.connection.close();
    client = undefined;
    assert.equal((await kk(['server', 'stop', '--workdir', workdir])).code, 0);
    // The same database served by a dev server whose UI has no codec endpoint.
    const [port, uiPort, httpPort, metricsPort] = await freePorts(4);
    plainServer = spawn(
      await ensureTemporalCli(),
      ['server', 'start-dev', '--db-filename', info.dbFile, '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    await waitFor('the plain server', () => answers(`127.0.0.1:${port}`, 2000), 90_000);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    let codecCalls = 0;
    page.on('request', (req) => {
      if (req.url().startsWith(info.codecUrl!)) codecCalls++;
    });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${encodeURIComponent(child())}`);
    await openScheduledActivityInput(page);
    // What the server holds: the payload's bytes as base64 (IV, ciphertext, tag), nothing the UI can read.
    const text = await waitText(page, 'the encrypted input', /Activity Task Scheduled[\s\S]*"[A-Za-z0-9+/]{200,}={0,2}"/);
    await shot(page, 'ui-4-activity-input-ciphertext');
    assert.ok(!text.includes(USER), 'the input is readable without the codec');
    assert.ok(!text.includes(MASK));
    assert.ok(!(await pageHtml(page)).includes(password));
    assert.equal(codecCalls, 0);
    await page.close();
  });
});
