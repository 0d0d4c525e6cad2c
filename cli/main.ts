import { ConfigError } from '../config/errors';
import { loadConfig } from '../config/load';
import { parseArgs, type GlobalOptions } from './args';
import { configCommand } from './commands/config';
import { factsCommand } from './commands/facts';
import { precheckCommand } from './commands/precheck';
import { initRegistryCommand } from './commands/init-registry';
import { cancelCommand, resumeCommand, runsCommand, statusCommand } from './commands/runs';
import { serverCommand } from './commands/server';
import { workerCommand } from './commands/worker';
import { openContext, resolveWorkdir, type KkContext } from './context';

const USAGE = `kk: installs Harbor or the docker registry over SSH, as durable Temporal workflows (KubeKey-compatible)

Usage: kk COMMAND [-i inventory.yaml] [-c config.yaml] [--set k=v,...] [--workdir DIR] [--output text|json]

Commands:
  config                     print the resolved variables (secrets masked)
  facts                      gather every inventory host's facts (OS, arch, CPUs, memory, disks, interfaces, docker)
  runs                       list runs
  status [RUN]               show a run and each host's current step (default: the newest run)
  resume [RUN]               continue an interrupted run to its end (default: the newest running run)
  cancel [RUN]               stop a run that is under way (default: the newest running run)
  server [start|stop]        run the work dir's Temporal dev server and web UI (foreground, or start/stop in background)
  worker [--local-host NAME] run a worker for kk's task queue (with TEMPORAL_ADDRESS: one per machine, any number);
                             it acts on an inventory's \`local\` hosts only when named (or KK_LOCAL_HOSTS=NAME,...)
  precheck image_registry    check everything an install depends on (reads only; exit 1 when a check fails)
  init registry              install the registry (image_registry.type=docker-registry; Harbor: not in this build yet)
  create cluster             (not available in this build yet)
  delete registry            (not available in this build yet)

Without TEMPORAL_ADDRESS, kk starts (or reuses) a Temporal dev server persisted under <workdir>/temporal and runs an
in-process worker while a command runs. With TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_TLS_*), it is a pure
client and \`kk worker\` processes do the work.

Exit codes: 0 done, 1 a run or check failed, 2 invalid input.
`;

const COMMAND_FLAGS = new Set<string>();
const COMMAND_VALUE_FLAGS = new Set(['local-host']);
const NOT_YET = new Set(['create cluster', 'delete registry']);

async function main(argv: string[]): Promise<number> {
  const { words, options } = parseArgs(argv, COMMAND_FLAGS, COMMAND_VALUE_FLAGS);
  const [command, ...rest] = words;
  if (options.help || !command || command === 'help') {
    process.stdout.write(USAGE);
    return command || options.help ? 0 : 2;
  }
  const workdir = resolveWorkdir(options.workdir);
  const load = (generateSecrets = true) => {
    const config = loadConfig({ inventoryPath: options.inventory, configPath: options.config, sets: options.sets, workdir, generateSecrets });
    for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
    return config;
  };
  const withContext = async (fn: (ctx: KkContext) => Promise<number>) => {
    const ctx = await openContext(workdir);
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  };
  const pair = `${command} ${rest[0] ?? ''}`.trim();
  if (NOT_YET.has(pair)) {
    process.stderr.write(`kk ${pair}: not available in this build yet\n`);
    return 2;
  }
  switch (command) {
    case 'config':
      return configCommand(load(), options.output);
    case 'facts': {
      const config = load(false);
      return withContext((ctx) => factsCommand(ctx, config, options.output));
    }
    case 'precheck': {
      if (rest[0] !== 'image_registry') throw new ConfigError([`kk precheck: only "image_registry" is supported, not "${rest.join(' ')}"`]);
      const config = load();
      return withContext((ctx) => precheckCommand(ctx, config, options.output));
    }
    case 'init': {
      if (rest[0] !== 'registry') throw new ConfigError([`kk init: only "registry" is supported, not "${rest.join(' ')}"`]);
      const config = load();
      return withContext((ctx) => initRegistryCommand(ctx, config, options.output));
    }
    case 'runs':
      return withContext((ctx) => runsCommand(ctx, options.output));
    case 'status':
      return withContext((ctx) => statusCommand(ctx, rest[0], options.output));
    case 'resume':
      return withContext((ctx) => resumeCommand(ctx, rest[0], options.output));
    case 'cancel':
      return withContext((ctx) => cancelCommand(ctx, rest[0]));
    case 'server':
      return serverCommand(workdir, rest[0]);
    case 'worker':
      return workerCommand(workdir, { localHosts: options.flags['local-host'] });
    default:
      throw new ConfigError([`unknown command "${[command, ...rest].join(' ')}"; kk --help lists the commands`]);
  }
}

function reportAndExit(err: unknown): never {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`error: ${p}\n`);
    process.exit(2);
  }
  process.stderr.write(`kk: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
}

export function run(argv: string[]): void {
  // `kk config | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : reportAndExit(err)));
  main(argv).then(
    (code) => process.exit(code),
    (err) => reportAndExit(err),
  );
}

export type { GlobalOptions };

if (require.main === module) run(process.argv.slice(2));
