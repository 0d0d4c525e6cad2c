import { ConfigError } from '../config/errors';
import { loadConfig } from '../config/load';
import { bashCompletion, runProgram, type CommonOptions, type Handlers, type InventoryOptions } from './args';
import { configCommand } from './commands/config';
import { factsCommand } from './commands/facts';
import { precheckCommand } from './commands/precheck';
import { initRegistryCommand } from './commands/init-registry';
import { artifactImagesPushCommand } from './commands/artifact-images';
import { createClusterCommand } from './commands/create-cluster';
import { deleteRegistryCommand, prepareDelete } from './commands/delete-registry';
import { cancelCommand, resumeCommand, runsCommand, statusCommand } from './commands/runs';
import { codecCommand } from './commands/codec';
import { serverCommand } from './commands/server';
import { workerCommand } from './commands/worker';
import { openContext, resolveWorkdir, type KkContext } from './context';

/** Each command's work, behind the declarations in ./args.ts. */
function handlers(): Handlers {
  const load = (o: InventoryOptions & CommonOptions, generateSecrets = true) => {
    const config = loadConfig({ inventoryPath: o.inventory, configPath: o.config, sets: o.set, workdir: resolveWorkdir(o.workdir), generateSecrets });
    for (const w of config.warnings) process.stderr.write(`warning: ${w}\n`);
    return config;
  };
  const withContext = async (o: CommonOptions, fn: (ctx: KkContext) => Promise<number>) => {
    const ctx = await openContext(resolveWorkdir(o.workdir));
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  };
  return {
    config: (o) => configCommand(load(o), o.output),
    facts: (o) => {
      const config = load(o, false);
      return withContext(o, (ctx) => factsCommand(ctx, config, o.output));
    },
    precheck: (_what, o) => {
      const config = load(o);
      return withContext(o, (ctx) => precheckCommand(ctx, config, o.output));
    },
    init: (_what, o) => {
      const config = load(o);
      return withContext(o, (ctx) => initRegistryCommand(ctx, config, o.output));
    },
    artifact: (_what, o) => {
      if (o.pull) {
        process.stderr.write('kk artifact images --pull: not available in this build yet\n');
        return Promise.resolve(2);
      }
      if (!o.push) {
        process.stderr.write('error: kk artifact images: say what to do: --push (fill the registry from <binary_dir>/images)\n');
        return Promise.resolve(2);
      }
      const config = load(o);
      return withContext(o, (ctx) => artifactImagesPushCommand(ctx, config, o.output));
    },
    create: (_what, o) => {
      const config = load(o);
      return withContext(o, (ctx) => createClusterCommand(ctx, config, o.output));
    },
    delete: async (_what, o) => {
      const config = load(o, false);
      const input = await prepareDelete(config, { withData: Boolean(o.withData), all: Boolean(o.all), yes: Boolean(o.yes) });
      return input ? withContext(o, (ctx) => deleteRegistryCommand(ctx, config, o.output, input)) : 2;
    },
    runs: (o) => withContext(o, (ctx) => runsCommand(ctx, o.output, { watch: o.watch })),
    status: (run, o) => withContext(o, (ctx) => statusCommand(ctx, run, o.output, { watch: o.watch })),
    resume: (run, o) => {
      // Re-read only when given: a resume without -i/-c/--set runs the parked steps again with the data they had.
      const config = o.inventory || o.config || o.set.length ? load(o) : undefined;
      return withContext(o, (ctx) => resumeCommand(ctx, run, o.output, { config, abort: o.abort }));
    },
    cancel: (run, o) => withContext(o, (ctx) => cancelCommand(ctx, run)),
    server: (action, o) => (action === 'codec' ? codecCommand(resolveWorkdir(o.workdir), o) : serverCommand(resolveWorkdir(o.workdir), action, o.output)),
    worker: (o) => workerCommand(resolveWorkdir(o.workdir), { localHosts: o.localHost?.length ? o.localHost.join(',') : undefined }),
    notYet: (what) => {
      process.stderr.write(`kk ${what}: not available in this build yet\n`);
      return 2;
    },
    completion: (_shell, program) => {
      process.stdout.write(bashCompletion(program));
      return 0;
    },
  };
}

async function main(argv: string[]): Promise<number> {
  return runProgram(argv, handlers());
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

if (require.main === module) run(process.argv.slice(2));
