import { Argument, Command, CommanderError, Option } from 'commander';

/**
 * kk's command line, declared with commander: `kk <command> --help` for every command, unknown flags refused with
 * the nearest known one, and the declarations feed `kk completion bash`. KubeKey's flags keep their spelling:
 * -i/--inventory, -c/--config, --set (repeatable), --workdir (and -w).
 */
export interface InventoryOptions {
  inventory?: string;
  config?: string;
  set: string[];
}

export interface CommonOptions {
  workdir?: string;
  output: 'text' | 'json';
}

export type Handlers = {
  config(o: InventoryOptions & CommonOptions): Promise<number> | number;
  facts(o: InventoryOptions & CommonOptions): Promise<number>;
  precheck(what: string, o: InventoryOptions & CommonOptions): Promise<number>;
  init(what: string, o: InventoryOptions & CommonOptions): Promise<number>;
  artifact(what: string, o: InventoryOptions & CommonOptions & { push?: boolean; pull?: boolean }): Promise<number>;
  create(what: string, o: InventoryOptions & CommonOptions): Promise<number>;
  delete(what: string, o: InventoryOptions & CommonOptions & { withData?: boolean; all?: boolean; yes?: boolean }): Promise<number>;
  runs(o: CommonOptions & { watch?: boolean }): Promise<number>;
  status(run: string | undefined, o: CommonOptions & { watch?: boolean }): Promise<number>;
  resume(run: string | undefined, o: InventoryOptions & CommonOptions & { abort?: boolean }): Promise<number>;
  cancel(run: string | undefined, o: CommonOptions): Promise<number>;
  server(action: string | undefined, o: CommonOptions & { uiOrigin?: string[]; port?: string }): Promise<number>;
  worker(o: CommonOptions & { localHost?: string[] }): Promise<number>;
  notYet(what: string): number;
  completion(shell: string, program: Command): number;
};

const collect = (value: string, previous: string[]) => [...previous, value];

function common(cmd: Command): Command {
  return cmd
    .option('-w, --workdir <dir>', 'work dir: pki/, secrets/, known_hosts, temporal/, logs/ (default: ./kubekey, or KK_WORKDIR)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'));
}

function inventory(cmd: Command): Command {
  return common(
    cmd
      .option('-i, --inventory <file>', "KubeKey `kind: Inventory` (default: KubeKey's built-in one, only localhost)")
      .option('-c, --config <file>', 'KubeKey `kind: Config`; variables under spec')
      .option('--set <k=v,...>', 'variables: a.b=1,c[0].d=x (repeatable; later wins; `\\,` escapes a comma)', collect, []),
  );
}

export const EXIT_HELP_SHOWN = 0;


export function buildProgram(h: Handlers, result: { code: number }): Command {
  const program = new Command('kk');
  const done = (code: number) => {
    result.code = code;
  };
  program
    .description('installs Harbor or the docker registry over SSH, as durable Temporal workflows (KubeKey-compatible)')
    // The workflow build too: a run is carried on only by the build that started it (runtime/build-id.ts). Hashing
    // the workflow sources for it is done when asked, not at every start (commander's .version() takes a string).
    .option('-V, --version', "print kk's version and its workflow build")
    .on('option:version', () => {
      const line = (require('../runtime/build-id') as typeof import('../runtime/build-id')).versionLine();
      process.stdout.write(`${line}\n`);
      throw new CommanderError(0, 'commander.version', line);
    })
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      // One `error:` line per problem, as for configuration errors: commander's hint joins its line.
      outputError: (s, write) => write(`${s.replace(/\n\((Did you mean [^)]*)\)/g, '; $1').trimEnd()}\n`),
    })
    .addHelpText(
      'after',
      `
Without TEMPORAL_ADDRESS, kk starts (or reuses) a Temporal dev server persisted under <workdir>/temporal, with its
web UI and a codec endpoint for it, and runs an in-process worker while a command runs; the server stops by itself
after KK_SERVER_IDLE_MINUTES (30) idle minutes. With TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_TLS_*), kk is
a pure client and \`kk worker\` processes do the work.

Exit codes: 0 done, 1 a run or check failed, 2 invalid input, 3 reserved (a run parked for the operator).`,
    );

  inventory(program.command('config').description('print the resolved variables (secrets masked)')).action(async (o) => done(await h.config(o)));
  inventory(program.command('facts').description("gather every inventory host's facts (OS, arch, CPUs, memory, disks, interfaces, docker)")).action(async (o) =>
    done(await h.facts(o)),
  );
  inventory(
    program
      .command('precheck')
      .description('check everything an install depends on (reads only; exit 1 when a check fails)')
      .addArgument(new Argument('<what>', 'what to check').choices(['image_registry'])),
  ).action(async (what: string, o) => done(await h.precheck(what, o)));
  inventory(
    program
      .command('init')
      .description('install the registry (image_registry.type: harbor or docker-registry)')
      .addArgument(new Argument('<what>', 'what to install').choices(['registry'])),
  ).action(async (what: string, o) => done(await h.init(what, o)));
  inventory(
    program
      .command('artifact')
      .description("fill the registry from <binary_dir>/images: `kk artifact images --push` (KubeKey's command)")
      .addArgument(new Argument('<what>', 'what to move').choices(['images']))
      .option('--push', 'push the images of <binary_dir>/images (or those image_manifests names) into the registry')
      .option('--pull', '(pull images into <binary_dir>/images: not available in this build yet)'),
  ).action(async (what: string, o) => done(await h.artifact(what, o)));
  inventory(
    program
      .command('create')
      .description("the registry phase of cluster creation: install or reuse the registry, make every k8s_cluster host pull from it (Kubernetes itself is not bootstrapped)")
      .addArgument(new Argument('<what>', 'what to create').choices(['cluster'])),
  ).action(async (what: string, o) => done(await h.create(what, o)));
  inventory(
    program
      .command('delete')
      .description("remove what kk's registry install created (units, compose projects, keepalived and the VIP, trust entries, the /etc/hosts block)")
      .addArgument(new Argument('<what>', 'what to delete').choices(['registry']))
      .option('--with-data', 'also delete the registry data (asks first; names the paths)')
      .option('--all', 'also remove the Docker and docker-compose kk installed (never a Docker kk did not install)')
      .option('-y, --yes', 'confirm --with-data without asking'),
  ).action(async (what: string, o) => done(await h.delete(what, o)));
  common(program.command('runs').description('list runs: state, age, hosts, phase').option('--watch', 'redraw until interrupted')).action(async (o) => done(await h.runs(o)));
  common(
    program
      .command('status')
      .description("show a run and each host's current step (default: the newest run)")
      .argument('[run]', 'run id (kk runs lists them)')
      .option('--watch', 'follow the run, redrawing until it closes'),
  ).action(async (run: string | undefined, o) => done(await h.status(run, o)));
  inventory(
    program
      .command('resume')
      .description('continue an interrupted or parked run to its end (default: the newest running run); -i/-c/--set send corrected hosts and values to parked hosts')
      .argument('[run]', 'run id')
      .option('--abort', "end a parked run's parked hosts cleanly, with a summary of what was done and what was not"),
  ).action(
    async (run: string | undefined, o) => done(await h.resume(run, o)),
  );
  common(program.command('cancel').description('stop a run that is under way (default: the newest running run)').argument('[run]', 'run id')).action(
    async (run: string | undefined, o) => done(await h.cancel(run, o)),
  );
  common(
    program
      .command('server')
      .description("the work dir's Temporal dev server, web UI and codec endpoint: foreground, or start/stop/status in the background")
      .addArgument(new Argument('[action]', 'start | stop | status (none: run in the foreground) | codec (the codec endpoint alone, for a cluster\'s UI)').choices(['start', 'stop', 'status', 'codec']))
      .option('--ui-origin <url>', 'codec: the web UI origin it answers (repeatable)', collect, [])
      .option('--port <port>', 'codec: the loopback port to listen on (default: a free one)'),
  ).action(async (action: string | undefined, o) => done(await h.server(action, o)));
  common(
    program
      .command('worker')
      .description("run a worker for kk's task queue (with TEMPORAL_ADDRESS: one per machine, any number)")
      .option('--local-host <name>', "act on the `local` host NAME of inventory INVENTORY (its metadata.name), given as INVENTORY/NAME (this machine); repeatable, or KK_LOCAL_HOSTS=INVENTORY/NAME,...", collect, []),
  ).action(async (o) => done(await h.worker(o)));
  program
    .command('completion')
    .description('print a shell completion script: source <(kk completion bash)')
    .addArgument(new Argument('[shell]').choices(['bash']).default('bash'))
    .action((shell: string) => done(h.completion(shell, program)));
  return program;
}

/** Parses and runs; returns the exit code (2 for bad input, with commander's `error:` line already printed). */
export async function runProgram(argv: readonly string[], h: Handlers): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(h, result);
  if (!argv.length) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
}

/** A bash completion script generated from the commands and flags declared above. */
export function bashCompletion(program: Command): string {
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const cases = commands
    .map((c) => {
      const flags = c.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
      const args = c.registeredArguments.flatMap((a) => a.argChoices ?? []);
      return `    ${c.name()}) words="${[...flags, '--help', ...args].join(' ')}" ;;`;
    })
    .join('\n');
  return `# kk bash completion: source <(kk completion bash)
_kk() {
  local cur prev words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map((c) => c.name()).join(' ')} --help" -- "$cur") )
    return
  fi
  case "$prev" in
    -i|--inventory|-c|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -w|--workdir) COMPREPLY=( $(compgen -d -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "text json" -- "$cur") ); return ;;
  esac
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _kk kk
`;
}
