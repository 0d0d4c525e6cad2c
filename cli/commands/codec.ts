import { ConfigError } from '../../config/errors';
import { lazy } from '../../runtime/lazy';

/**
 * `kk server codec`: the UI's codec endpoint alone, for a real cluster's web UI (the embedded server's UI gets one
 * from `kk server` itself). It decrypts with this machine's kk key (KK_CODEC_KEY, or the work dir's) and masks every
 * secret, like the embedded one; it answers only the UI's origin(s) (--ui-origin, repeatable) and listens on
 * loopback: the browser that opens the UI calls it, so it runs on the operator's machine.
 */
export async function codecCommand(workdir: string, options: { uiOrigin?: string[]; port?: string }): Promise<number> {
  const problems: string[] = [];
  const origins = options.uiOrigin ?? [];
  if (!origins.length) problems.push('--ui-origin: the web UI\'s origin is required, e.g. --ui-origin http://127.0.0.1:8080');
  for (const o of origins) {
    let url: URL | undefined;
    try {
      url = new URL(o);
    } catch {
      // reported below
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) problems.push(`--ui-origin: "${o}" is not an origin (scheme://host[:port], nothing after it)`);
  }
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--port: "${options.port}" is not a port number`);
  if (problems.length) throw new ConfigError(problems);
  const [{ loadCodecKey }, { startCodecServer }] = await Promise.all([
    lazy<typeof import('../../runtime/codec')>(() => require('../../runtime/codec')),
    lazy<typeof import('../../runtime/codec-server')>(() => require('../../runtime/codec-server')),
  ]);
  const codec = await startCodecServer({ key: loadCodecKey(workdir), port, uiOrigins: origins.map((o) => new URL(o).origin) });
  process.stdout.write(`codec ${codec.url} for the UI at ${origins.join(', ')}; set it as the UI's codec endpoint (TEMPORAL_CODEC_ENDPOINT); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await codec.close();
  return 0;
}
